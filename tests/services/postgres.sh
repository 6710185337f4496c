#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests, installing Debian's
# package and starting its cluster when it does not. Prints the admin URL the tests use (each
# test creates its own database through it).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
URL="postgres://postgres:natter-test@127.0.0.1:5432/postgres"

up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! up; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing PostgreSQL (Debian package postgresql)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
  fi
  version=$(ls /etc/postgresql | sort -V | tail -1)
  echo "starting PostgreSQL $version" >&2
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do up && break; sleep 0.2; done
  up || { echo "PostgreSQL did not start" >&2; exit 1; }
fi
# A fresh Debian install asks for a password over TCP: give the admin role the tests' one
# (a server configured for trust auth ignores it).
if ! psql "$URL" -qtAc 'select 1' >/dev/null 2>&1; then
  $SUDO runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'natter-test'" >/dev/null
fi
psql "$URL" -qtAc 'select 1' >/dev/null
# Databases left by earlier runs (a test that was killed cannot drop its own).
for db in $(psql "$URL" -qtAc "select datname from pg_database where datname like 'natter\_test\_%'"); do
  psql "$URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
done
echo "$URL"
