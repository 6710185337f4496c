#!/usr/bin/env bash
# The installer as a tester gets it: builds a signed .deb of Natter 0.1.0 and a signed 0.1.1
# (debug profile, so CI reuses the test build; `./x bundle` makes the release ones), installs
# 0.1.0 with dpkg, drives the installed app under Xvfb through tauri-driver (first start: choose
# the server, sign up; updates: a forged signature refused, the real 0.1.1 installed), then
# purges the package and checks nothing is left in system directories.
# Needs root (dpkg). Run by `./x test`; alone: tests/installer/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/natter/target}
BIN=$CARGO_TARGET_DIR/debug
TAURI=$ROOT/ui/node_modules/.bin/tauri
[ "$(id -u)" -eq 0 ] || { echo "error: the installer test needs root (dpkg -i)" >&2; exit 1; }
[ -x "$BIN/natter" ] || { echo "error: $BIN/natter not built (run ./x test)" >&2; exit 1; }
dpkg-query -W natter >/dev/null 2>&1 &&
  { echo "error: a natter package is already installed; remove it first (dpkg --purge natter)" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  dpkg-query -W natter >/dev/null 2>&1 && dpkg --purge natter >/dev/null 2>&1 || true
  [ -n "${NATTER_E2E_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

# Keys made here, for this run only: the real release key never enters the repository.
"$TAURI" signer generate --ci -p "" -w "$WORK/update.key" >/dev/null
"$TAURI" signer generate --ci -p "" -w "$WORK/forger.key" >/dev/null

# The update site: a plain static HTTP server on loopback.
mkdir -p "$WORK/site"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/site" >"$WORK/site.log" 2>&1 &
PIDS+=($!)

DEBS=$CARGO_TARGET_DIR/debug/bundle/deb
build_deb() { # version
  rm -f "$DEBS"/*.deb "$DEBS"/*.sig
  NATTER_UPDATE_PUBKEY=$(cat "$WORK/update.key.pub") \
    NATTER_UPDATE_URL="http://127.0.0.1:$PORT/latest.json" \
    TAURI_SIGNING_PRIVATE_KEY=$(cat "$WORK/update.key") TAURI_SIGNING_PRIVATE_KEY_PASSWORD="" \
    ./x bundle --debug --bundles deb --config "{\"version\": \"$1\"}" >"$WORK/bundle-$1.log" 2>&1 ||
    { tail -n 40 "$WORK/bundle-$1.log" >&2; exit 1; }
  cp "$DEBS/Natter_$1_amd64.deb" "$DEBS/Natter_$1_amd64.deb.sig" "$WORK/"
  # The bundler's staging tree holds another copy of the ~800 MB debug binary.
  rm -rf "$DEBS/Natter_$1_amd64" "$DEBS/Natter_$1_amd64.deb"
}
echo "==> building Natter 0.1.1 and 0.1.0 as signed .deb packages" >&2
build_deb 0.1.1
build_deb 0.1.0
cp "$WORK/Natter_0.1.1_amd64.deb" "$WORK/site/"
# The same package signed with another key: what a forged release would look like.
"$TAURI" signer sign --private-key-path "$WORK/forger.key" -p "" "$WORK/site/Natter_0.1.1_amd64.deb" >/dev/null
mv "$WORK/site/Natter_0.1.1_amd64.deb.sig" "$WORK/forged.sig"

# What system directories hold before the package: compared after it is purged.
snapshot() { find /usr /etc /opt /var/lib/dpkg/info -xdev 2>/dev/null | sort; }
snapshot >"$WORK/before.txt"

echo "==> dpkg -i Natter_0.1.0_amd64.deb" >&2
dpkg -i "$WORK/Natter_0.1.0_amd64.deb" >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; exit 1; }
dpkg-query -L natter >"$WORK/files.txt"

# A real server for the installed app to sign up on.
"$BIN/natter" server --data "$WORK/server" --listen 127.0.0.1:0 >"$WORK/server.url" 2>"$WORK/server.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/server.url" ] && break; sleep 0.1; done
SERVER_URL=$(head -n1 "$WORK/server.url")

if [ -z "${DISPLAY:-}" ]; then
  for n in $(seq 130 160); do [ -e "/tmp/.X$n-lock" ] || { DISP=$n; break; }; done
  Xvfb ":$DISP" -screen 0 1400x900x24 -nolisten tcp >/dev/null 2>&1 &
  PIDS+=($!)
  export DISPLAY=":$DISP"
  for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$DISP" ] && break; sleep 0.1; done
fi
command -v tauri-driver >/dev/null || cargo install tauri-driver --version '^2' --locked --quiet
export PATH="$HOME/.cargo/bin:$PATH"
# The tester's home: the app must keep its data there, never beside /usr/bin/natter-app.
mkdir -p "$WORK/home"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
DRIVER_PORT=$(free_port)
NATIVE_PORT=$(free_port)
HOME="$WORK/home" XDG_DATA_HOME="" XDG_CONFIG_HOME="" XDG_CACHE_HOME="" \
  tauri-driver --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" \
  --native-driver /usr/bin/WebKitWebDriver >"$WORK/driver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null 2>&1 && break; sleep 0.1; done

mkdir -p "$ROOT/target/e2e"
export NATTER_E2E_SHOTS="$ROOT/target/e2e"
export NATTER_INSTALL_DRIVER="http://127.0.0.1:$DRIVER_PORT"
export NATTER_INSTALL_SERVER="$SERVER_URL"
export NATTER_INSTALL_HOME="$WORK/home"
export NATTER_INSTALL_WORK="$WORK"
export NATTER_INSTALL_SITE="$WORK/site"
export NATTER_INSTALL_SITE_URL="http://127.0.0.1:$PORT"
export NATTER_INSTALL_FILES="$WORK/files.txt"
if ! node --test --test-concurrency=1 tests/installer/; then
  echo "---- tauri-driver log" >&2; tail -n 60 "$WORK/driver.log" >&2
  echo "---- server log" >&2; tail -n 20 "$WORK/server.log" >&2
  exit 1
fi

echo "==> dpkg --purge natter" >&2
dpkg --purge natter >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; exit 1; }
snapshot >"$WORK/after.txt"
if ! diff "$WORK/before.txt" "$WORK/after.txt" >"$WORK/left.txt"; then
  echo "error: removing the package left system files behind or removed others:" >&2
  cat "$WORK/left.txt" >&2
  exit 1
fi
echo "==> installer test passed: installed, used, updated, purged; nothing left behind" >&2
