#!/usr/bin/env bash
# scripts/interop-client.sh: the command-line client (examples/client.rs) against two other
# WebSocket implementations: Python `websockets` (PyPI) and Node `ws` (npm), each over ws:// and
# wss:// (a throwaway CA made here with the openssl CLI), each with permessage-deflate on and
# off on the server. The servers are scripts/interop_servers/echo_server.{py,js}; they log one
# line per connection with the negotiated extensions, subprotocol and the X-Test header.
#
# Checks, for every server variant: the client with and without --deflate echoes a set of lines
# (empty, non-ASCII, ~100 KiB) back in order and exits 0; the server logged permessage-deflate
# exactly when both ends enabled it, the subprotocol (--protocol) and the header (-H). Per
# server: a server that closes first ends the client (0 after 1000, 1 after 4000); a 403 makes it exit non-zero with
# 403 on stderr. Once: wss:// without --ca fails with a TLS reason; --timeout 1 against a TCP
# listener that never answers fails within 3 s with a timeout reason.
#
# Non-interactive; every step is bounded. Needs python3 (venv), node/npm, openssl and the
# package registries the first time: the venv is target/interop-venv (shared with
# interop-deflate.sh), ws goes into target/interop-node. Logs and outputs: target/interop-client/.
# Prints `interop-client: N/M ok`; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/interop-venv
SPEC="${WEBSOCKETS_SPEC:-websockets>=15,<18}"
NODE_DIR=target/interop-node
DIR=target/interop-client
SERVERS=scripts/interop_servers
CLIENT=target/release/examples/client
rm -rf "$DIR"
mkdir -p "$DIR/certs"

for tool in python3 node npm openssl; do
  command -v "$tool" >/dev/null || { echo "interop-client: $tool is missing" >&2; exit 1; }
done

# --- tools ---------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || {
    echo "interop-client: python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    rm -rf "$VENV"
    exit 1
  }
fi
if ! "$VENV/bin/python" -c 'import websockets.asyncio.server' 2>/dev/null; then
  timeout 300 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$SPEC"
fi
echo "interop-client: websockets $("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)')"
if [ ! -f "$NODE_DIR/node_modules/ws/package.json" ]; then
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"private": true}' > "$NODE_DIR/package.json"
  timeout 300 npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error ws@8
fi
echo "interop-client: ws $(node -p "require('./$NODE_DIR/node_modules/ws/package.json').version")"

# --- a CA and a certificate for localhost and 127.0.0.1 signed by it ------------------------
C="$DIR/certs"
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=interop-client test CA" -keyout "$C/ca.key" -out "$C/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$C/server.key" -out "$C/server.csr"
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > "$C/server.ext"
  openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -days 2 -extfile "$C/server.ext" -out "$C/server.pem"
} > "$C/openssl.log" 2>&1 || { cat "$C/openssl.log" >&2; exit 1; }

timeout 900 cargo build --release --quiet --example client

# --- the lines sent: ASCII, empty, spaces, non-ASCII, ~100 KiB ----------------------------
INPUT="$DIR/input.txt"
"$VENV/bin/python" - "$INPUT" <<'EOF'
import random, sys
rng = random.Random(7)
words = ["alpha", "beta", "gamma", "délta", "ω", "日本語", "🎉", "x"]
lines = ["hello", "", "  spaces around  ", "héllo wörld ✓ Ünïcødé 日本語 🎉 ∑∞",
         " ".join(rng.choice(words) for _ in range(20000))[:100 * 1024]]
lines += [f"line {i}: {rng.random()}" for i in range(50)] + ["last"]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
EOF

# --- servers -------------------------------------------------------------------------------
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
ADDR=""
# start NAME CMD...: runs CMD in the background, logging to $DIR/NAME.log; sets ADDR.
start() {
  local name=$1 log="$DIR/$1.log"
  shift
  : > "$log"
  "$@" > "$log" 2>&1 &
  PIDS+=($!)
  ADDR=""
  for _ in $(seq 1 100); do
    ADDR=$(grep -oE 'listening 127\.0\.0\.1:[0-9]+' "$log" | head -n1 | cut -d' ' -f2 || true)
    [ -n "$ADDR" ] && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "interop-client: server $name did not start" >&2
  cat "$log" >&2
  exit 1
}

PASS=0
TOTAL=0
result() { # NAME REASON ("" = ok)
  TOTAL=$((TOTAL + 1))
  if [ -z "$2" ]; then
    PASS=$((PASS + 1))
    echo "ok   $1"
  else
    echo "FAIL $1: $2"
    if [ -s "$DIR/$1.err" ]; then sed 's/^/     stderr: /' "$DIR/$1.err" | head -n 5; fi
  fi
}

# wait_lines FILE N: until FILE has N lines, at most 20 s.
wait_lines() {
  for _ in $(seq 1 400); do
    [ "$(wc -l < "$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
}

# echo_case NAME URL LOG EXPECT_DEFLATE(yes|no) CLIENT_ARGS...
echo_case() {
  local name=$1 url=$2 log=$3 expect=$4 rc=0 why="" line
  shift 4
  : > "$DIR/$name.out"
  # Stdin ends once every echo is back: a server stops echoing when the client's Close arrives
  # (RFC 6455 §5.5.1), so an EOF right after the last line would race the echoes.
  { cat "$INPUT"; wait_lines "$DIR/$name.out" "$(wc -l < "$INPUT")"; } |
    timeout 30 "$CLIENT" "$@" -H "X-Test: $name" --protocol chat.v1 "$url/echo-$name" \
      > "$DIR/$name.out" 2> "$DIR/$name.err" || rc=$?
  line=$(grep -F "conn path=/echo-$name " "$log" || true)
  if [ $rc -ne 0 ]; then
    why="exit status $rc"
  elif ! cmp -s "$INPUT" "$DIR/$name.out"; then
    why="the echo differs from what was sent ($(wc -l < "$DIR/$name.out") of $(wc -l < "$INPUT") lines back)"
  elif [ -z "$line" ]; then
    why="the server logged no such connection"
  elif [ "$expect" = yes ] && [[ "$line" != *"ext=permessage-deflate"* ]]; then
    why="permessage-deflate not negotiated: $line"
  elif [ "$expect" = no ] && [[ "$line" != *"ext=- "* ]]; then
    why="an extension was negotiated: $line"
  elif [[ "$line" != *"proto=chat.v1 xtest=$name" ]]; then
    why="subprotocol or header not seen by the server: $line"
  fi
  result "$name" "$why"
}

# fail_case NAME PATTERN MAX_SECS CLIENT_ARGS...: must exit non-zero within MAX_SECS, stderr ~ PATTERN.
fail_case() {
  local name=$1 pattern=$2 max=$3 rc=0 why="" t0 t1
  shift 3
  t0=$(date +%s%N)
  timeout 10 "$CLIENT" "$@" < /dev/null > "$DIR/$name.out" 2> "$DIR/$name.err" || rc=$?
  t1=$(date +%s%N)
  if [ $rc -eq 0 ]; then
    why="exit status 0"
  elif [ $rc -eq 124 ]; then
    why="still running after 10 s"
  elif ! grep -qiE "$pattern" "$DIR/$name.err"; then
    why="stderr does not match /$pattern/"
  elif [ $(((t1 - t0) / 1000000)) -gt $((max * 1000)) ]; then
    why="took $(((t1 - t0) / 1000000)) ms, over $max s"
  fi
  result "$name" "$why"
}

# close_first NAME URL PATH EXPECT_RC EXPECT_STDOUT EXPECT_STDERR CLIENT_ARGS...: the server
# closes first (stdin stays open): the exit status, stdout and a pattern in stderr ("": empty).
close_first() {
  local name=$1 url=$2 path=$3 want_rc=$4 want_out=$5 want_err=$6 rc=0 why=""
  shift 6
  # Stdin: a FIFO this shell holds open for writing, so it never ends while the client runs.
  rm -f "$DIR/stdin.fifo"
  mkfifo "$DIR/stdin.fifo"
  exec 3<> "$DIR/stdin.fifo"
  timeout 10 "$CLIENT" "$@" "$url$path" < "$DIR/stdin.fifo" > "$DIR/$name.out" \
    2> "$DIR/$name.err" || rc=$?
  exec 3>&-
  if [ $rc -ne "$want_rc" ]; then
    why="exit status $rc, not $want_rc"
  elif [ "$(cat "$DIR/$name.out")" != "$want_out" ]; then
    why="printed $(head -c 200 "$DIR/$name.out" | tr '\n' '|'), not $(echo "$want_out" | tr '\n' '|')"
  elif [ -z "$want_err" ] && [ -s "$DIR/$name.err" ]; then
    why="stderr is not empty"
  elif [ -n "$want_err" ] && ! grep -qE "$want_err" "$DIR/$name.err"; then
    why="stderr does not match /$want_err/"
  fi
  result "$name" "$why"
}

for server in py node; do
  for scheme in ws wss; do
    for sdeflate in off on; do
      args=()
      [ "$scheme" = wss ] && args+=(--tls "$C/server.pem" "$C/server.key")
      [ "$sdeflate" = on ] && args+=(--deflate)
      id="$server-$scheme-deflate-$sdeflate"
      if [ "$server" = py ]; then
        start "$id" "$VENV/bin/python" "$SERVERS/echo_server.py" "${args[@]}"
      else
        start "$id" env NODE_PATH="$NODE_DIR/node_modules" node "$SERVERS/echo_server.js" "${args[@]}"
      fi
      host=127.0.0.1
      ca=()
      if [ "$scheme" = wss ]; then
        host=localhost
        ca=(--ca "$C/ca.pem")
      fi
      url="$scheme://$host:${ADDR#127.0.0.1:}"
      log="$DIR/$id.log"
      echo_case "$id-plain" "$url" "$log" no "${ca[@]}"
      echo_case "$id-client-deflate" "$url" "$log" "$([ "$sdeflate" = on ] && echo yes || echo no)" \
        "${ca[@]}" --deflate
      if [ "$sdeflate" = off ]; then
        close_first "$id-server-closes-first" "$url" /close-first 0 $'bye\nbinary 3 bytes' '' "${ca[@]}"
        close_first "$id-server-closes-4000" "$url" /close-4000 1 '' '4000' "${ca[@]}"
        fail_case "$id-403" '403' 5 "${ca[@]}" "$url/forbidden"
      fi
      if [ "$server-$scheme-$sdeflate" = py-wss-off ]; then
        fail_case "wss-without-ca" 'TLS' 5 "$url/"
      fi
    done
  done
done

start silent "$VENV/bin/python" "$SERVERS/echo_server.py" --silent
fail_case "timeout-1s-silent-server" 'time' 3 --timeout 1 "ws://$ADDR/"

echo "interop-client: $PASS/$TOTAL ok"
[ "$PASS" -eq "$TOTAL" ]
