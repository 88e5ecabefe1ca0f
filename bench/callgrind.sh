#!/usr/bin/env bash
# User-space instructions per echoed message and per connection, for every echo server, under
# callgrind. Instruction counts do not depend on other load on the machine, so unlike
# compare.py's timings they are comparable across runs and machines of the same ISA.
#
#   bash bench/callgrind.sh                  # all six servers, ~1.5 min on 2 cores
#   bash bench/callgrind.sh --only ours,raw  # a subset
#   bash bench/callgrind.sh --no-build       # use the binaries already in target/release
#
# Method. Each figure is a difference of two runs, each on a fresh server process under
# `valgrind --tool=callgrind`, driven by `load` (not under valgrind):
#
#   per message     load -c CONNS --count A   vs   load -c CONNS --count B   (ping-pong)
#                   (Ir(B) - Ir(A)) / ((B - A) * CONNS)
#   per connection  load --connect-only NA    vs   load --connect-only NB
#                   (Ir(NB) - Ir(NA)) / (NB - NA)
#
# so process start-up, runtime threads, the first connections' warm-up and (per message) the
# handshakes are in both runs and cancel out: what remains is the steady-state cost of one more
# message, or of one more connect + HTTP/1.1 upgrade handshake + WebSocket close handshake + TCP
# close. `Ir` is the `totals:` line of each callgrind output file: every user-space instruction
# of every thread of the server (the kernel's share of the syscalls is not counted).
#
# glibc and valgrind. Under valgrind glibc still picks its AVX2 string functions, but valgrind
# executes `rep movsb`/`rep stosb` one iteration at a time and callgrind counts each iteration
# as an instruction: a 64 KiB memcpy, which glibc does with `rep movsb` above 8 KiB here, counts
# as ~65.7k instructions instead of the ~6.4k of its AVX2 loop (measured with a C test program).
# On the real CPU (ERMS/FSRM) `rep movsb` runs at about the speed of the vector loop, so its
# per-byte count would misrepresent every server that copies large payloads. The script
# therefore raises glibc's rep-movsb/rep-stosb thresholds with GLIBC_TUNABLES, so copies and
# fills of every size run (and count) as glibc's vector loops. `--no-tunables` turns that off.
#
# Output: a markdown table on stdout (also saved as target/bench/callgrind-<timestamp>.md, with
# the raw totals and every command in a .txt beside it); callgrind files stay in
# target/bench/callgrind-<timestamp>/ for callgrind_annotate. Every step has a timeout; servers
# are stopped with SIGTERM (callgrind writes its file on the way out), and killed on any exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/target/release"
IMPLS=(raw ours fastwebsockets tokio-websockets tungstenite axum)

CONNS=10             # connections for the per-message runs
SMALL_A=1000         # 16 B round trips per connection, short run (10,000 messages)
SMALL_B=3000         # 16 B round trips per connection, long run  (30,000 messages)
BIG_A=100            # 64 KiB round trips per connection, short run (1,000 messages)
BIG_B=300            # 64 KiB round trips per connection, long run  (3,000 messages)
CONNECT_A=100        # handshake + close cycles, short run
CONNECT_B=300        # handshake + close cycles, long run
RUN_TIMEOUT=240      # seconds for one load run against a server under valgrind
TUNABLES="glibc.cpu.x86_rep_movsb_threshold=0x7fffffff:glibc.cpu.x86_rep_stosb_threshold=0x7fffffff"
BUILD=1
ONLY=""

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:?--only needs a list}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-tunables) TUNABLES=""; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 >&2 ;;
  esac
done
if [ -n "$ONLY" ]; then
  IFS=, read -r -a IMPLS <<< "$ONLY"
fi

command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

STAMP=$(date +%Y%m%d-%H%M%S)
OUT="$ROOT/target/bench/callgrind-$STAMP"
LOG="$OUT.txt"
mkdir -p "$OUT"
START=$(date +%s)

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

trap 'stop_server' EXIT
trap 'exit 130' INT TERM

note() { echo "$*" >&2; }

if [ "$BUILD" = 1 ]; then
  note "building (release) ..."
  (cd "$ROOT" && timeout 1800 cargo build --release -p tower-websocket-bench --bins)
fi
for bin in echo_server load; do
  [ -x "$BIN/$bin" ] || { echo "$BIN/$bin is missing: build first" >&2; exit 2; }
done

# measure IMPL TAG LOAD-ARGS... : sets IR to the callgrind total of one server process that
# served exactly the load described by LOAD-ARGS. (Not run in a subshell, so that the EXIT
# trap always knows the server's pid.)
IR=""
measure() {
  IR=""
  local impl=$1 tag=$2; shift 2
  local cg="$OUT/$impl.$tag.out" stdout="$OUT/$impl.$tag.stdout" vglog="$OUT/$impl.$tag.valgrind.log"
  GLIBC_TUNABLES=$TUNABLES valgrind --tool=callgrind --callgrind-out-file="$cg" \
    "$BIN/echo_server" "$impl" 127.0.0.1:0 >"$stdout" 2>"$vglog" </dev/null &
  SERVER_PID=$!
  local addr="" i
  for i in $(seq 1 600); do  # up to 60 s for valgrind to start the server
    addr=$(sed -n 's/^listening on \(127\.0\.0\.1:[0-9]*\)$/\1/p' "$stdout" 2>/dev/null || true)
    [ -n "$addr" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    note "$impl $tag: the server did not start (see $vglog)"
    stop_server
    return 1
  fi
  local cmd=("$BIN/load" --addr "$addr" --impl "$impl" --timeout "$RUN_TIMEOUT" "$@")
  echo "# $impl $tag: GLIBC_TUNABLES=$TUNABLES valgrind --tool=callgrind --callgrind-out-file=$cg $BIN/echo_server $impl 127.0.0.1:0; ${cmd[*]}" >>"$LOG"
  if ! timeout $((RUN_TIMEOUT + 10)) "${cmd[@]}" >>"$LOG" 2>>"$vglog"; then
    note "$impl $tag: load failed (see $vglog)"
    stop_server
    return 1
  fi
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for i in $(seq 1 300); do  # up to 30 s for callgrind to write its file
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    note "$impl $tag: the server did not exit after SIGTERM"
    stop_server
    return 1
  fi
  stop_server
  local total
  total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg" 2>/dev/null | head -n 1)
  if [ -z "$total" ]; then
    note "$impl $tag: no totals line in $cg"
    return 1
  fi
  echo "$impl $tag Ir=$total" >>"$LOG"
  IR=$total
}

# per UNITS A_IR B_IR: (B - A) / UNITS, to the nearest instruction.
per() { echo $(( ($3 - $2 + $1 / 2) / $1 )); }

# k: 4213 -> 4.2 k
k() {
  case "$1" in
    ''|*[!0-9-]*) echo "$1" ;;
    *) awk -v n="$1" 'BEGIN { printf "%.1f k", n / 1000 }' ;;
  esac
}

declare -A SMALL BIG CONNECT
for impl in "${IMPLS[@]}"; do
  raw=()
  [ "$impl" = raw ] && raw=(--raw)
  for cell in 16 65536; do
    if [ "$cell" = 16 ]; then na=$SMALL_A nb=$SMALL_B; else na=$BIG_A nb=$BIG_B; fi
    note "$impl: ${cell} B ping-pong, $CONNS conns x $na and x $nb round trips ..."
    value="failed"
    if measure "$impl" "s$cell.c$na" "${raw[@]}" -c "$CONNS" -s "$cell" --count "$na" &&
       a=$IR && measure "$impl" "s$cell.c$nb" "${raw[@]}" -c "$CONNS" -s "$cell" --count "$nb"; then
      value=$(per $(( (nb - na) * CONNS )) "$a" "$IR")
    fi
    if [ "$cell" = 16 ]; then SMALL[$impl]=$value; else BIG[$impl]=$value; fi
    note "$impl: ${cell} B: $value instructions per message"
  done
  if [ "$impl" = raw ]; then
    CONNECT[$impl]="n/a"
  else
    note "$impl: connect-only $CONNECT_A and $CONNECT_B cycles ..."
    value="failed"
    if measure "$impl" "connect$CONNECT_A" --connect-only "$CONNECT_A" &&
       a=$IR && measure "$impl" "connect$CONNECT_B" --connect-only "$CONNECT_B"; then
      value=$(per $(( CONNECT_B - CONNECT_A )) "$a" "$IR")
    fi
    CONNECT[$impl]=$value
    note "$impl: $value instructions per connection"
  fi
done

{
  echo "### User-space instructions (callgrind)"
  echo
  echo "Server-side, all threads, steady state (difference of two runs; see bench/callgrind.sh)."
  echo "Per message: $CONNS connections, ping-pong, $SMALL_A vs $SMALL_B (16 B) and $BIG_A vs $BIG_B"
  echo "(64 KiB) round trips each."
  echo "Per connection: connect + HTTP/1.1 upgrade + close handshake + TCP close,"
  echo "$CONNECT_A vs $CONNECT_B sequential cycles. GLIBC_TUNABLES=${TUNABLES:-(unset)}."
  echo "$(valgrind --version), $(cd "$ROOT" && rustc -V), commit $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)'); $(( $(date +%s) - START )) s."
  echo
  printf '| instructions |'; for impl in "${IMPLS[@]}"; do printf ' %s |' "$impl"; done; echo
  printf '|---|'; for impl in "${IMPLS[@]}"; do printf -- '---:|'; done; echo
  printf '| per 16 B echo |'; for impl in "${IMPLS[@]}"; do printf ' %s |' "$(k "${SMALL[$impl]}")"; done; echo
  printf '| per 64 KiB echo |'; for impl in "${IMPLS[@]}"; do printf ' %s |' "$(k "${BIG[$impl]}")"; done; echo
  printf '| per connection (handshake + close) |'; for impl in "${IMPLS[@]}"; do printf ' %s |' "$(k "${CONNECT[$impl]}")"; done; echo
} | tee "$OUT.md"
note "raw totals and commands: $LOG; callgrind files: $OUT/"
for impl in "${IMPLS[@]}"; do
  case "${SMALL[$impl]}${BIG[$impl]}${CONNECT[$impl]}" in *failed*) exit 1 ;; esac
done
