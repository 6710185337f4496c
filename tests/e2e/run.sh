#!/usr/bin/env bash
# End-to-end: the real desktop app, built with its embedded UI, started under Xvfb and driven
# through tauri-driver + WebKitWebDriver; a real server and a real CLI user on the other side.
# Expects `./x test` (or `./x run`) to have built the workspace. Screenshots: target/e2e/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug
[ -x "$BIN/natter-app" ] || { echo "error: $BIN/natter-app not built (run ./x test)" >&2; exit 1; }

if ! command -v tauri-driver >/dev/null; then
  echo "==> installing tauri-driver" >&2
  cargo install tauri-driver --version '^2' --locked --quiet
fi
export PATH="$HOME/.cargo/bin:$PATH"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${NATTER_E2E_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${DISPLAY:-}" ]; then
  for n in $(seq 90 120); do [ -e "/tmp/.X$n-lock" ] || { DISP=$n; break; }; done
  Xvfb ":$DISP" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
  PIDS+=($!)
  export DISPLAY=":$DISP"
  for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$DISP" ] && break; sleep 0.1; done
fi

# history.test.mjs seeds 10,000 messages in seconds: far past the per-minute rate limit, which
# the Rust suites test on their own.
"$BIN/natter" server --data "$WORK/server" --listen 127.0.0.1:0 --messages-per-minute 1000000 \
  >"$WORK/server.url" 2>"$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/server.url" ] && break; sleep 0.1; done
SERVER_URL=$(head -n1 "$WORK/server.url")
[ -n "$SERVER_URL" ] || { cat "$WORK/server.log" >&2; exit 1; }

# The app's microphone: ALSA's file plugin reading speech from a FIFO fed in real time (see
# tests/alsa/README.md). Only the processes started below see this ALSA configuration.
espeak-ng -w "$WORK/speech.wav" "Hello Walt, this is Vera recording a voice note in the Natter app. \
  It comes through the microphone, in real time, and should sound just like this." 2>/dev/null
sox -D "$WORK/speech.wav" -r 48000 -c 1 -b 16 "$WORK/speech48k.wav" pad 0 1
sox -D "$WORK/speech48k.wav" -t raw -e signed-integer "$WORK/speech.raw" repeat 5
mkfifo "$WORK/mic.fifo"
sed "s#@INFILE@#$WORK/mic.fifo#" tests/alsa/asound.conf.example >"$WORK/asound.conf"
python3 tests/alsa/feed.py "$WORK/speech.raw" "$WORK/mic.fifo" &
PIDS+=($!)

# The app's file picker in tests: a list of paths the album test writes (one per line).
export NATTER_TEST_PICK="$WORK/pick.txt"

PORT=$((4500 + RANDOM % 400))
ALSA_CONFIG_PATH="$WORK/asound.conf" \
  tauri-driver --port "$PORT" --native-driver /usr/bin/WebKitWebDriver >"$WORK/driver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/status" >/dev/null 2>&1 && break; sleep 0.1; done

mkdir -p "$ROOT/target/e2e"
export NATTER_E2E_DRIVER="http://127.0.0.1:$PORT"
export NATTER_E2E_APP="$BIN/natter-app"
export NATTER_E2E_CLI="$BIN/natter"
export NATTER_E2E_SERVER="$SERVER_URL"
export NATTER_E2E_WORK="$WORK"
export NATTER_E2E_SHOTS="$ROOT/target/e2e"
export NATTER_E2E_SPEECH_WAV="$WORK/speech48k.wav"
if ! node --test --test-concurrency=1 tests/e2e/; then
  echo "---- tauri-driver log" >&2; tail -n 50 "$WORK/driver.log" >&2
  echo "---- server log" >&2; tail -n 50 "$WORK/server.log" >&2
  exit 1
fi
