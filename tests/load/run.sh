#!/usr/bin/env bash
# The Natter load benchmark (a command, not a test).
#
# Builds `natter` and `natter-load` in release, starts `natter server` instance(s) on
# loopback with the per-sender rate limit lifted, runs natter-load through a curve of offered
# rates and prints the table (and writes results.json in the work directory).
#
#   tests/load/run.sh                                   # 10,000 connections, the full curve
#   tests/load/run.sh --connections 200 --rates 100,500 # a quick smoke run
#   tests/load/run.sh --work ~/.cache/natter/load/one   # keep data + accounts: a rerun skips sign-up
#   tests/load/run.sh --instances 2                     # two instances: PostgreSQL + NATS
#   tests/load/run.sh -- --drain-secs 30                # anything after -- goes to natter-load
#
# Options:
#   --instances N      1 (SQLite, default) or 2+ (PostgreSQL + NATS bus; needs a natter
#                      server that has --bus and --database)
#   --connections N    users, one WebSocket each (default 10000)
#   --group-size G     members per group (default 10)
#   --rates LIST       offered messages/s, one step each (default 250,500,1000,2000,3000)
#   --step-secs S      measured seconds per step (default 20)
#   --warmup-secs S    unmeasured seconds at each step's rate first (default 5)
#   --work DIR         keep the servers' data and the account cache here (default: a fresh
#                      temp dir, removed at the end). Sign-up is two Argon2 hashes per user
#                      on the server: 10,000 users take several minutes the first time.
#   --no-build         use the release binaries already in CARGO_TARGET_DIR
#   --server-log LEVEL the servers' RUST_LOG (default warn: info logs two lines per request,
#                      which costs measurable CPU at thousands of requests a second)
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/natter/target); PGHOST/PGPORT/PGUSER for
# --instances 2 (default 127.0.0.1:5432, postgres, trust auth); NATS_URL (default
# nats://127.0.0.1:4222).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/natter/target}"

INSTANCES=1
CONNECTIONS=10000
GROUP_SIZE=10
RATES=250,500,1000,2000,3000
STEP_SECS=20
WARMUP_SECS=5
WORK=""
SERVER_LOG=warn
BUILD=1
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --instances) INSTANCES="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --group-size) GROUP_SIZE="$2"; shift 2 ;;
        --rates) RATES="$2"; shift 2 ;;
        --step-secs) STEP_SECS="$2"; shift 2 ;;
        --warmup-secs) WARMUP_SECS="$2"; shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --server-log) SERVER_LOG="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { echo "run.sh: $*" >&2; }

# --- build -----------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
    log "building natter and natter-load (release) in $CARGO_TARGET_DIR"
    (cd "$ROOT" && nice -n 10 cargo build --release -p natter-cli -p natter-load)
fi
NATTER="$CARGO_TARGET_DIR/release/natter"
LOAD="$CARGO_TARGET_DIR/release/natter-load"

# --- limits ------------------------------------------------------------------------------
# Every WebSocket is a descriptor on both sides; servers and the tool inherit this limit.
HARD=$(ulimit -Hn)
if [ "$HARD" != unlimited ] && [ "$HARD" -lt $((CONNECTIONS + 1024)) ]; then
    # Root may raise the hard limit unless the container forbids it.
    ulimit -Hn $((CONNECTIONS + 4096)) 2>/dev/null || \
        log "warning: hard open-file limit is $HARD, under $CONNECTIONS connections + spare"
fi
ulimit -n "$(ulimit -Hn)"
log "open-file limit: $(ulimit -n)"

# --- work directory ----------------------------------------------------------------------
if [ -n "$WORK" ]; then
    mkdir -p "$WORK"
    KEEP=1
else
    WORK="$(mktemp -d -t natter-load.XXXXXX)"
    KEEP=0
fi
WORK="$(cd "$WORK" && pwd)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$KEEP" = 0 ]; then
        if [ -s "$WORK/database-name" ]; then
            dropdb -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-postgres}" \
                "$(cat "$WORK/database-name")" || true
        fi
        rm -rf "$WORK"
    else
        log "kept $WORK (server logs, state.json, results.json)"
    fi
}
trap cleanup EXIT

# --- servers -----------------------------------------------------------------------------
# The load's senders and group creators go far past the per-user limits (a group of 32
# invites 31 strangers), which the Rust suites test on their own.
SERVER_ARGS=(--messages-per-minute 1000000 --new-conversations-per-day 1000000)

# Two or more instances share one PostgreSQL database and fan events out over NATS.
# HOOK (--instances 2): needs `natter server --database postgres://… --bus nats://…`.
multi_instance_args() {
    if ! "$NATTER" server --help | grep -q -- '--bus'; then
        log "--instances $INSTANCES needs a natter server with --bus and --database (not built yet)"
        exit 2
    fi
    local pghost="${PGHOST:-127.0.0.1}" pgport="${PGPORT:-5432}" pguser="${PGUSER:-postgres}"
    local db_file="$WORK/database-name" db
    if [ -s "$db_file" ]; then
        db="$(cat "$db_file")"
    else
        db="natter_load_$(date +%s)_$$"
        createdb -h "$pghost" -p "$pgport" -U "$pguser" "$db"
        echo "$db" > "$db_file"
        log "created PostgreSQL database $db"
    fi
    SERVER_ARGS+=(--database "postgres://$pguser@$pghost:$pgport/$db" --bus "${NATS_URL:-nats://127.0.0.1:4222}")
}
if [ "$INSTANCES" -gt 1 ]; then
    multi_instance_args
fi

URLS=()
start_instance() {
    local i="$1" out="$WORK/server$1.out"
    mkdir -p "$WORK/data$i"
    : > "$out"
    RUST_LOG="$SERVER_LOG" "$NATTER" server --data "$WORK/data$i" --listen 127.0.0.1:0 \
        "${SERVER_ARGS[@]}" > "$out" 2> "$WORK/server$i.log" &
    PIDS+=($!)
    # The server prints its URL once it listens.
    for _ in $(seq 1 300); do
        if grep -q '^http' "$out"; then
            URLS+=("$(grep -m1 '^http' "$out")")
            log "instance $i: ${URLS[-1]} (pid ${PIDS[-1]}, data $WORK/data$i)"
            return
        fi
        if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
            log "instance $i exited:"; tail -20 "$WORK/server$i.log" >&2; exit 1
        fi
        sleep 0.1
    done
    log "instance $i did not start in 30 s"; tail -20 "$WORK/server$i.log" >&2; exit 1
}
for i in $(seq 1 "$INSTANCES"); do
    start_instance "$i"
done

# --- the benchmark -----------------------------------------------------------------------
ARGS=(--connections "$CONNECTIONS" --group-size "$GROUP_SIZE" --rates "$RATES"
      --step-secs "$STEP_SECS" --warmup-secs "$WARMUP_SECS"
      --state "$WORK/state.json" --json "$WORK/results.json")
for url in "${URLS[@]}"; do ARGS+=(--server "$url"); done
for pid in "${PIDS[@]}"; do ARGS+=(--server-pid "$pid"); done
if [ "$INSTANCES" -gt 1 ]; then
    # Where the rest of the machine goes: the shared database and the bus.
    ARGS+=(--watch postgres --watch nats-server)
fi
log "natter-load ${ARGS[*]} ${EXTRA[*]}"
status=0
"$LOAD" "${ARGS[@]}" "${EXTRA[@]}" || status=$?

for i in $(seq 1 "$INSTANCES"); do
    warns=$(grep -c -E 'WARN|ERROR' "$WORK/server$i.log" || true)
    log "instance $i: $warns warning/error lines in its log"
    # Grouped by message: colours, timestamps and numbers stripped.
    sed 's/\x1b\[[0-9;]*m//g' "$WORK/server$i.log" | grep -E ' (WARN|ERROR) ' \
        | sed -E 's/^[^ ]+ +//; s/[0-9]+(\.[0-9]+)?/N/g' | cut -c1-160 \
        | sort | uniq -c | sort -rn | head -5 >&2 || true
done
if [ "$KEEP" = 0 ]; then
    cp "$WORK/results.json" "${TMPDIR:-/tmp}/natter-load-results.json" 2>/dev/null && \
        log "results: ${TMPDIR:-/tmp}/natter-load-results.json"
fi
exit "$status"
