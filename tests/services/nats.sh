#!/usr/bin/env bash
# Makes sure a NATS server answers on 127.0.0.1:4222 for the tests, installing Debian's
# nats-server and starting it when it does not. Prints its URL.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

if ! up; then
  if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    echo "installing NATS (Debian package nats-server)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nats-server >/dev/null
  fi
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  echo "starting NATS" >&2
  log=${TMPDIR:-/tmp}/natter-nats.log
  setsid "$bin" -a 127.0.0.1 -p 4222 >"$log" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do up && break; sleep 0.1; done
  up || { echo "NATS did not start; see $log" >&2; exit 1; }
fi
echo "nats://127.0.0.1:4222"
