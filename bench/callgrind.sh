#!/usr/bin/env bash
# User-space instructions per echoed message and per connection, for every echo server, under
# callgrind. Instruction counts do not depend on other load on the machine, so unlike
# compare.py's timings they are comparable across runs and machines of the same ISA.
#
#   bash bench/callgrind.sh                  # all six servers, 3 repetitions, ~2 min on 2 cores
#   bash bench/callgrind.sh --only ours,raw  # a subset
#   bash bench/callgrind.sh --reps 1         # one repetition (~40 s)
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
# Counts are not exactly repeatable: how tokio's threads interleave under valgrind, and how a
# 64 KiB message is split across reads, differ from run to run (about 1-3% for 16 B and per
# connection, up to ~8% for 64 KiB). Each figure is therefore the median of --reps repetitions
# (default 3), with the range beside it.
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
REPS=3               # repetitions; the table gives the median (and the range)
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
    --reps) REPS=${2:?--reps needs a number}; shift 2 ;;
    --no-tunables) TUNABLES=""; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 >&2 ;;
  esac
done
case "$REPS" in ''|*[!0-9]*|0) echo "--reps must be a positive integer" >&2; exit 2 ;; esac
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

# one_rep IMPL KIND REP: sets VALUE to one repetition's instructions per message (KIND 16 or
# 65536) or per connection (KIND connect), or to "failed".
VALUE=""
one_rep() {
  local impl=$1 kind=$2 rep=$3 raw=() na nb units a
  [ "$impl" = raw ] && raw=(--raw)
  VALUE=failed
  if [ "$kind" = connect ]; then
    units=$(( CONNECT_B - CONNECT_A ))
    measure "$impl" "connect$CONNECT_A.r$rep" --connect-only "$CONNECT_A" || return 0
    a=$IR
    measure "$impl" "connect$CONNECT_B.r$rep" --connect-only "$CONNECT_B" || return 0
  else
    if [ "$kind" = 16 ]; then na=$SMALL_A nb=$SMALL_B; else na=$BIG_A nb=$BIG_B; fi
    units=$(( (nb - na) * CONNS ))
    measure "$impl" "s$kind.c$na.r$rep" "${raw[@]}" -c "$CONNS" -s "$kind" --count "$na" || return 0
    a=$IR
    measure "$impl" "s$kind.c$nb.r$rep" "${raw[@]}" -c "$CONNS" -s "$kind" --count "$nb" || return 0
  fi
  VALUE=$(per "$units" "$a" "$IR")
}

# summary VALUES...: "2.9 k" for one value; "2.9 k (2.8–3.0)": median (min–max) for several.
summary() {
  local v sorted n
  for v in "$@"; do
    case "$v" in ''|*[!0-9-]*) echo "$v"; return ;; esac
  done
  mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
  n=${#sorted[@]}
  awk -v med="${sorted[$(( (n - 1) / 2 ))]}" -v lo="${sorted[0]}" -v hi="${sorted[$(( n - 1 ))]}" -v n="$n" \
    'BEGIN { if (n == 1) printf "%.1f k", med / 1000;
             else printf "%.1f k (%.1f–%.1f)", med / 1000, lo / 1000, hi / 1000 }'
}

KINDS=(16 65536 connect)
declare -A RESULTS  # "IMPL KIND" -> one value per repetition
for rep in $(seq 1 "$REPS"); do
  for impl in "${IMPLS[@]}"; do
    for kind in "${KINDS[@]}"; do
      if [ "$impl" = raw ] && [ "$kind" = connect ]; then
        continue  # no handshake
      fi
      one_rep "$impl" "$kind" "$rep"
      RESULTS["$impl $kind"]+="$VALUE "
      note "[rep $rep/$REPS] $impl $kind: $VALUE instructions per $([ "$kind" = connect ] && echo connection || echo message)"
      echo "rep=$rep impl=$impl kind=$kind per_unit=$VALUE" >>"$LOG"
    done
  done
done

row() {  # row LABEL KIND
  printf '| %s |' "$1"
  local impl
  for impl in "${IMPLS[@]}"; do
    if [ "$impl" = raw ] && [ "$2" = connect ]; then
      printf ' n/a |'
    else
      # Word splitting of the stored list is intended.
      # shellcheck disable=SC2086
      printf ' %s |' "$(summary ${RESULTS["$impl $2"]})"
    fi
  done
  echo
}

{
  echo "### User-space instructions (callgrind)"
  echo
  echo "Server-side, all threads, steady state (difference of two runs; see bench/callgrind.sh);"
  echo "median of $REPS repetition(s), (min–max) when more than one."
  echo "Per message: $CONNS connections, ping-pong, $SMALL_A vs $SMALL_B (16 B) and $BIG_A vs $BIG_B"
  echo "(64 KiB) round trips each."
  echo "Per connection: connect + HTTP/1.1 upgrade + close handshake + TCP close,"
  echo "$CONNECT_A vs $CONNECT_B sequential cycles. GLIBC_TUNABLES=${TUNABLES:-(unset)}."
  echo "$(valgrind --version), $(cd "$ROOT" && rustc -V), commit $(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)'); $(( $(date +%s) - START )) s."
  echo
  printf '| instructions |'; for impl in "${IMPLS[@]}"; do printf ' %s |' "$impl"; done; echo
  printf '|---|'; for impl in "${IMPLS[@]}"; do printf -- '---:|'; done; echo
  row "per 16 B echo" 16
  row "per 64 KiB echo" 65536
  row "per connection (handshake + close)" connect
} | tee "$OUT.md"
note "raw totals and commands: $LOG; callgrind files: $OUT/"
case "${RESULTS[*]}" in *failed*) exit 1 ;; esac
