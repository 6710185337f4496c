#!/usr/bin/env bash
# Size of what testers get (a measurement, not a test): the .deb's size, its installed size, and
# the app's memory when idle after signing in with one chat open. Uses the release .deb that
# `./x bundle` made (or the one given as $1), unpacked into a temporary directory with
# dpkg-deb (nothing is installed), driven through tauri-driver under Xvfb.
#   tests/size/run.sh [PATH/TO/Natter_VERSION_amd64.deb]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/natter/target}
DEB=${1:-$(ls -t "$CARGO_TARGET_DIR"/dist/release/bundle/deb/*.deb 2>/dev/null | head -n1)}
[ -f "$DEB" ] || { echo "error: no release .deb: run ./x bundle first" >&2; exit 1; }
BIN=$CARGO_TARGET_DIR/debug
[ -x "$BIN/natter" ] || { echo "error: $BIN/natter not built (cargo build -p natter-cli)" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

dpkg-deb -x "$DEB" "$WORK/root"
echo "package:            $(basename "$DEB")"
echo "  .deb size:        $(stat -c %s "$DEB") bytes ($(numfmt --to=iec-i --suffix=B "$(stat -c %s "$DEB")"))"
echo "  Installed-Size:   $(dpkg-deb -f "$DEB" Installed-Size) KiB (dpkg's figure)"
echo "  unpacked:         $(du -sb "$WORK/root" | cut -f1) bytes"
echo "  binary:           $(stat -c %s "$WORK/root/usr/bin/natter-app") bytes"

"$BIN/natter" server --data "$WORK/server" --listen 127.0.0.1:0 >"$WORK/server.url" 2>"$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/server.url" ] && break; sleep 0.1; done
SERVER=$(head -n1 "$WORK/server.url")
"$BIN/natter" --server "$SERVER" --profile "$WORK/bob" signup --username bob --password bob-password-1 \
  --birthdate 1990-01-01 >/dev/null
"$BIN/natter" --server "$SERVER" --profile "$WORK/amy" signup --username amy --password amy-password-1 \
  --birthdate 1990-01-01 >/dev/null
# amy writes first, so bob's messages are an ordinary chat, not a message request.
"$BIN/natter" --server "$SERVER" --profile "$WORK/amy" send --to bob --text "Hi bob" >/dev/null
for i in $(seq 1 29); do
  "$BIN/natter" --server "$SERVER" --profile "$WORK/bob" send --to amy --text "Message $i from bob" >/dev/null
done

if [ -z "${DISPLAY:-}" ]; then
  for n in $(seq 170 199); do [ -e "/tmp/.X$n-lock" ] || { DISP=$n; break; }; done
  Xvfb ":$DISP" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
  PIDS+=($!)
  export DISPLAY=":$DISP"
  for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$DISP" ] && break; sleep 0.1; done
fi
command -v tauri-driver >/dev/null || cargo install tauri-driver --version '^2' --locked --quiet
export PATH="$HOME/.cargo/bin:$PATH"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
tauri-driver --port "$PORT" --native-port "$(free_port)" --native-driver /usr/bin/WebKitWebDriver \
  >"$WORK/driver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/status" >/dev/null 2>&1 && break; sleep 0.1; done

NATTER_SIZE_DRIVER="http://127.0.0.1:$PORT" NATTER_SIZE_APP="$WORK/root/usr/bin/natter-app" \
  NATTER_SIZE_PROFILE="$WORK/amy-app" NATTER_SIZE_SERVER="$SERVER" \
  node tests/size/idle-memory.mjs
