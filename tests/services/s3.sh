#!/usr/bin/env bash
# A real S3-compatible server for the tests: moto's standalone server (PyPI `moto[server]`),
# on 127.0.0.1:9000, with the bucket `natter-test`.
#
#   eval "$(tests/services/s3.sh)"     # installs if missing, starts if not running
#
# Idempotent and never prompts: installs moto into its own virtualenv (not the system
# Python) the first time, starts it in the background only if nothing answers on the port,
# creates the bucket if it is missing. Everything it says goes to stderr; stdout carries only
# `export` lines: the `AWS_…` variables the tests need (object_store's
# `AmazonS3Builder::from_env`) and `NATTER_TEST_S3=1`, which turns on the S3 tests of
# `natter_server::blobs` (without it they print that they were skipped). The server's API
# suite runs against S3 when NATTER_TEST_MEDIA_URL=s3://natter-test/SOME-PREFIX is set too.
#
# Why moto: it installs from PyPI alone in seconds (MinIO, Garage and SeaweedFS are in none
# of the registries this project can reach; s3s-fs from crates.io would be a long compile and
# calls itself experimental), it is the S3 emulator the AWS SDKs' own users test against, and
# it implements what the server relies on: path-style requests, ListObjectsV2 with prefixes,
# conditional `If-None-Match: *` puts and 404s for missing keys and buckets. It keeps objects
# in memory: a restart empties it (tests create their own fresh prefixes anyway).
#
# Settings (environment): NATTER_S3_PORT (9000), NATTER_S3_VENV
# (~/.cache/natter/moto-venv), NATTER_S3_LOG (~/.cache/natter/moto.log).
set -euo pipefail

port="${NATTER_S3_PORT:-9000}"
host=127.0.0.1
bucket=natter-test
venv="${NATTER_S3_VENV:-$HOME/.cache/natter/moto-venv}"
log="${NATTER_S3_LOG:-$HOME/.cache/natter/moto.log}"
# Pinned so every machine tests against the same emulator.
moto_version=5.2.5

say() { echo "s3.sh: $*" >&2; }

if ! "$venv/bin/python" -c "import moto; assert moto.__version__ == '$moto_version'" 2>/dev/null; then
    say "installing moto[server]==$moto_version into $venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input \
        "moto[server]==$moto_version" >&2
fi

listening() {
    "$venv/bin/python" - "$host" "$port" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}

if ! listening; then
    say "starting moto_server on $host:$port (log: $log)"
    mkdir -p "$(dirname "$log")"
    # setsid + nohup: the server outlives this script and the shell that ran it.
    setsid nohup "$venv/bin/moto_server" -H "$host" -p "$port" >>"$log" 2>&1 </dev/null &
    for _ in $(seq 1 100); do
        listening && break
        sleep 0.2
    done
    listening || { say "moto_server did not start; see $log"; tail -n 20 "$log" >&2; exit 1; }
fi

export AWS_ENDPOINT_URL="http://$host:$port"
export AWS_REGION=us-east-1
# moto accepts any credentials; object_store needs some to sign with.
export AWS_ACCESS_KEY_ID=natter-test
export AWS_SECRET_ACCESS_KEY=natter-test
export AWS_ALLOW_HTTP=true

"$venv/bin/python" - "$bucket" <<'PY' >&2
import os, sys
import boto3, botocore.exceptions
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
try:
    s3.create_bucket(Bucket=sys.argv[1])
    print(f"s3.sh: bucket {sys.argv[1]} ready")
except botocore.exceptions.ClientError as e:
    if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        raise
PY

for var in AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ALLOW_HTTP; do
    echo "export $var=${!var}"
done
echo "export NATTER_TEST_S3=1"
