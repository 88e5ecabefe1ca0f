#!/usr/bin/env bash
# scripts/browser-chat.sh: the chat example in a real browser. Two headless Chromium pages join
# the room, see each other's join, exchange a message (markup included, which must stay text),
# and one leaves; scripts/browser_chat.mjs drives them with playwright-core.
#
# Non-interactive. Installs what is missing: Debian's chromium (as root, or with sudo -n) if
# /usr/bin/chromium is absent, and playwright-core into target/browser-test (no browser download:
# Debian's chromium is used). The server binds 127.0.0.1:0 and the port is read from its banner.
# Logs: target/browser-test/server.log; a failure leaves screenshots in target/browser-test/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=true
DIR=target/browser-test
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
mkdir -p "$DIR"
rm -f "$DIR"/failure-*.png

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    echo "browser-chat: $CHROMIUM is missing and installing it needs root (no sudo here)" >&2
    exit 1
  fi
}

if [ ! -x "$CHROMIUM" ]; then
  echo "== installing chromium (Debian package)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
"$CHROMIUM" --version

if [ ! -f "$DIR/node_modules/playwright-core/package.json" ]; then
  echo "== installing playwright-core into $DIR"
  [ -f "$DIR/package.json" ] || echo '{"private": true}' > "$DIR/package.json"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR" --no-audit --no-fund \
    --loglevel=error playwright-core@1
fi
PW_VERSION=$(node -p "require('./$DIR/node_modules/playwright-core/package.json').version")
echo "playwright-core $PW_VERSION"

echo "== building the chat example"
cargo build --release --quiet --example chat

LOG="$DIR/server.log"
./target/release/examples/chat 127.0.0.1:0 > "$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT

# The banner names the port the server bound: "chat server: open http://127.0.0.1:PORT".
ADDR=""
for _ in $(seq 1 100); do
  ADDR=$(grep -o '127\.0\.0\.1:[0-9]*' "$LOG" | head -n 1 || true)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$ADDR" ]; then
  echo "browser-chat: the server did not start" >&2
  cat "$LOG" >&2
  exit 1
fi
echo "== chat server on $ADDR"

status=0
PLAYWRIGHT_DIR="$DIR" CHROMIUM="$CHROMIUM" timeout 60 node scripts/browser_chat.mjs "http://$ADDR" \
  || status=$?
if ! kill -0 "$SERVER" 2>/dev/null; then
  echo "browser-chat: the server died during the run" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "browser-chat: FAILED (exit $status); server log:" >&2
  cat "$LOG" >&2
fi
exit "$status"
