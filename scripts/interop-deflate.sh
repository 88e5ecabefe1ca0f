#!/usr/bin/env bash
# scripts/interop-deflate.sh: permessage-deflate interop with a real compressing client, the
# `websockets` library from PyPI, against `examples/autobahn_server` (which compresses every
# message). The checks are in scripts/interop_deflate.py; this sets up and tears down.
#
# Creates a venv under target/interop-venv on first use (needs python3 with venv/ensurepip and
# access to PyPI). Non-interactive; every step is bounded. Exits non-zero on any failure.
# WEBSOCKETS_SPEC overrides the pip requirement (default below).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/interop-venv
SPEC="${WEBSOCKETS_SPEC:-websockets>=15,<18}"
LOG=target/interop-deflate-server.log

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || {
    echo "interop-deflate: python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    rm -rf "$VENV"
    exit 1
  }
fi
if ! "$VENV/bin/python" -c 'import websockets.sync.client' 2>/dev/null; then
  timeout 300 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$SPEC"
fi
echo "interop-deflate: websockets $("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)')"

cargo build --release --quiet --example autobahn_server
./target/release/examples/autobahn_server 127.0.0.1:0 > "$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT

# The server prints its address once bound (port 0: the OS picks a free one).
ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(grep -oE '127\.0\.0\.1:[0-9]+' "$LOG" | head -n1 || true)
  [ -n "$ADDR" ] && break
  kill -0 $SERVER 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ADDR" ]; then
  echo "interop-deflate: the server did not start" >&2
  cat "$LOG" >&2
  exit 1
fi

status=0
timeout 600 "$VENV/bin/python" scripts/interop_deflate.py --url "ws://$ADDR/" --deadline 540 || status=$?
if ! kill -0 $SERVER 2>/dev/null; then
  echo "interop-deflate: the server died during the run" >&2
  cat "$LOG" >&2
  exit 1
fi
exit $status
