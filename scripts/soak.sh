#!/usr/bin/env bash
# scripts/soak.sh [SECONDS]: memory soak of `examples/echo` under 10,000 concurrent WebSocket
# connections on loopback, driven by ../shared/wsload. Default: 180 s of measured traffic.
#
# 1. Raises `ulimit -n` so that the server and the client can each hold every connection.
# 2. Builds `examples/echo` (release) and wsload (into $TARGET/wsload; ../shared stays read-only).
# 3. Starts the server on 127.0.0.1:0 (it prints the bound address) and samples its VmRSS, open
#    fds and threads once a second into target/soak/rss-<stamp>.csv.
# 4. Per round: wsload opens all connections (handshake + one verified echo each), then every
#    connection exchanges messages for SECONDS; wsload closes them all and exits. The script waits
#    until the server's fd count is back to where it was, lets it settle, and samples RSS again.
# 5. Fails if any connection failed, the server died, or RSS after the last round is not within
#    max(16 MiB, 10% of peak) of the RSS at start (or, with SOAK_ROUNDS>1, if the last round left
#    more memory behind than the first by more than that: growth round over round is a leak).
#    If RSS stays up, it asks glibc through gdb (when installed) how much is still in use and
#    calls malloc_trim(0): RSS after that must then be within the limit (see "verdict" below).
#
# Knobs (environment): SOAK_CONNS (10000), SOAK_SIZE (1k), SOAK_WINDOW (4), SOAK_THREADS (1),
# SOAK_ROUNDS (1), SOAK_WARMUP (2 s), SOAK_SETTLE (5 s), SOAK_STRICT (0; 1: judge on RSS alone,
# no malloc_trim). The server inherits the environment, so e.g. `MALLOC_ARENA_MAX=1 scripts/soak.sh`
# tries glibc with a single malloc arena.
#
# Traffic: 1 KiB text messages, 4 in flight per connection. 1 KiB is a typical application
# message (a JSON event, a chat line) and goes through UTF-8 validation; with 4 in flight a read
# can carry several frames and the server's reply batching is exercised, yet only 10,000 x 4 KiB = 40 MiB is in flight
# in total, so socket buffers never fill and the figures measure the server's own memory.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-180}"
CONNS="${SOAK_CONNS:-10000}"
SIZE="${SOAK_SIZE:-1k}"
WINDOW="${SOAK_WINDOW:-4}"
THREADS="${SOAK_THREADS:-1}"
ROUNDS="${SOAK_ROUNDS:-1}"
WARMUP="${SOAK_WARMUP:-2}"
SETTLE="${SOAK_SETTLE:-5}"
SHARED="${SHARED:-../shared}"
TARGET="${CARGO_TARGET_DIR:-target}"
OUT=target/soak

die() { echo "soak: $*" >&2; exit 1; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
for v in SECS CONNS WINDOW THREADS ROUNDS WARMUP SETTLE; do
  is_uint "${!v}" || die "$v must be a whole number, got '${!v}'"
done
((SECS >= 1 && SECS <= 3600)) || die "SECONDS must be 1..3600, got $SECS"
((CONNS >= 1 && ROUNDS >= 1 && ROUNDS <= 10)) || die "need SOAK_CONNS >= 1 and SOAK_ROUNDS 1..10"
[[ "$SIZE" =~ ^[0-9]+[kKmM]?$ ]] || die "SOAK_SIZE must look like 16, 1k or 1m, got '$SIZE'"

# ---- file descriptors: each process holds CONNS sockets plus its own few dozen files.
NEED_FDS=$((CONNS + 1024))
if (($(ulimit -Sn) < NEED_FDS)); then
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && ((hard < NEED_FDS)); then
    ulimit -Hn "$NEED_FDS" 2>/dev/null ||
      die "cannot raise the hard open-files limit from $hard to $NEED_FDS (needs root or CAP_SYS_RESOURCE; or lower SOAK_CONNS)"
  fi
  ulimit -Sn "$NEED_FDS" 2>/dev/null || die "cannot raise ulimit -n to $NEED_FDS"
fi
# One client address to one server port: every connection needs its own ephemeral port.
read -r port_lo port_hi < /proc/sys/net/ipv4/ip_local_port_range
((port_hi - port_lo + 1 > CONNS + 1000)) ||
  die "ip_local_port_range $port_lo-$port_hi is too small for $CONNS connections"

mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
CSV="$OUT/rss-$STAMP.csv"
SERVER_LOG="$OUT/server-$STAMP.log"
LOAD_LOG="$OUT/wsload-$STAMP.txt"
PHASE_FILE="$OUT/.phase-$STAMP"

# ---- build (bounded: a cold build on 2 shared cores takes a few minutes)
echo "soak: building examples/echo and wsload (release)" >&2
timeout 1800 cargo build --release --quiet --example echo
timeout 1800 cargo build --release --quiet --manifest-path "$SHARED/wsload/Cargo.toml" \
  --target-dir "$TARGET/wsload"
ECHO_BIN="$TARGET/release/examples/echo"
WSLOAD="$TARGET/wsload/release/wsload"
[ -x "$ECHO_BIN" ] || die "no $ECHO_BIN after the build"
[ -x "$WSLOAD" ] || die "no $WSLOAD after the build"

# ---- server
SERVER=""
SAMPLER=""
LOAD=""
cleanup() {
  if [ -n "$LOAD" ]; then kill "$LOAD" 2>/dev/null || true; fi # timeout passes it on to wsload
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; fi
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
    kill "$SERVER" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$SERVER" 2>/dev/null; then kill -9 "$SERVER" 2>/dev/null || true; fi
  fi
  rm -f "$PHASE_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$ECHO_BIN" 127.0.0.1:0 > "$SERVER_LOG" 2>&1 &
SERVER=$!
ADDR=""
for _ in $(seq 1 300); do # up to 30 s
  ADDR=$(grep -oE '127\.0\.0\.1:[0-9]+' "$SERVER_LOG" | head -n1 || true)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ADDR" ] || { cat "$SERVER_LOG" >&2; die "the echo server did not print its address"; }
PORT="${ADDR##*:}"
((PORT > 0)) || die "the echo server's banner shows port 0, not the bound port: $ADDR"

status_kib() { # VmRSS / VmHWM of the server in KiB
  awk -v k="$1:" '$1 == k { print $2; exit }' "/proc/$SERVER/status"
}
fd_count() {
  local entries=("/proc/$SERVER/fd/"*)
  echo "${#entries[@]}"
}
field() { sed -nE "s/.* $1=([^ ]+).*/\\1/p" <<< " $2"; } # a key=value of a RESULT line
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Sampler: once a second, bounded by count, stops with the server.
echo start > "$PHASE_FILE"
MAX_SAMPLES=$(((WARMUP + SECS + 300) * ROUNDS + 120))
(
  t0=$EPOCHREALTIME
  echo "t_s,phase,rss_kib,fds,threads"
  for ((i = 0; i < MAX_SAMPLES; i++)); do
    st=$(cat "/proc/$SERVER/status" 2>/dev/null) || break
    rss=$(awk '$1 == "VmRSS:" { print $2 }' <<< "$st")
    thr=$(awk '$1 == "Threads:" { print $2 }' <<< "$st")
    fds=$(fd_count 2>/dev/null || echo na)
    printf '%s,%s,%s,%s,%s\n' \
      "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" \
      "$(cat "$PHASE_FILE" 2>/dev/null || echo end)" "$rss" "$fds" "$thr"
    # on a 1 s grid from t0 (reading 10,000 fd entries and forking takes a while under load)
    sleep "$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v i="$i" 'BEGIN { d = a + i + 1 - b; printf "%.3f", (d > 0 ? d : 0) }')"
  done
) > "$CSV" &
SAMPLER=$!

sleep 2 # let the runtime's workers start
START_KIB=$(status_kib VmRSS)
START_FDS=$(fd_count)
echo "soak: server pid $SERVER on $ADDR, rss at start $(mib "$START_KIB") MiB, $START_FDS fds" >&2

# ---- rounds
TOTAL_MSGS=0
declare -a AFTER_KIB=() PEAK_KIB=() RESULTS=()
for ((r = 1; r <= ROUNDS; r++)); do
  echo "load$r" > "$PHASE_FILE"
  echo "soak: round $r/$ROUNDS: $CONNS connections, $SIZE text messages, $WINDOW in flight, ${WARMUP}s warm-up + ${SECS}s" >&2
  # wsload's own watchdog ends it after warm-up + duration + 60 s; `timeout` is a second rail.
  # In the background and `wait`ed for, so that INT/TERM stop the run at once (bash defers traps
  # until a foreground command ends); cleanup stops it.
  rc=0
  timeout $((WARMUP + SECS + 180)) "$WSLOAD" --port "$PORT" --path /ws -c "$CONNS" -w "$WINDOW" \
    -s "$SIZE" --text -d "$SECS" --warmup "$WARMUP" -t "$THREADS" --server-pid "$SERVER" \
    --label "soak-r$r" > "$OUT/.wsload-out" 2> "$OUT/.wsload-err" &
  LOAD=$!
  wait "$LOAD" || rc=$?
  LOAD=""
  cat "$OUT/.wsload-out" "$OUT/.wsload-err" >> "$LOAD_LOG"
  RESULT=$(grep '^RESULT ' "$OUT/.wsload-out" | tail -n1 || true)
  # VmHWM is only brought up to date on some kernel paths (e.g. munmap), so it can be below an
  # RSS sample: take the larger.
  hwm=$(status_kib VmHWM)
  sampled=$(awk -F, -v p="load$r" '$2 == p && $3 + 0 > m { m = $3 + 0 } END { print m + 0 }' "$CSV")
  PEAK_KIB[r]=$((hwm > sampled ? hwm : sampled))
  echo "close$r" > "$PHASE_FILE"
  kill -0 "$SERVER" 2>/dev/null || { tail -n 20 "$SERVER_LOG" >&2; die "the server died during round $r"; }
  [ -n "$RESULT" ] || { cat "$OUT/.wsload-err" >&2; die "wsload printed no RESULT line (exit $rc)"; }
  ok=$(field conns_ok "$RESULT")
  errors=$(field errors "$RESULT")
  echo "soak: $RESULT" >&2
  [ "$rc" = 0 ] || die "wsload exited with status $rc"
  [ "$ok" = "$CONNS" ] || { cat "$OUT/.wsload-err" >&2; die "only $ok of $CONNS connections succeeded"; }
  [ "$errors" = 0 ] || { cat "$OUT/.wsload-err" >&2; die "$errors connection errors during the run"; }
  RESULTS[r]=$RESULT
  TOTAL_MSGS=$((TOTAL_MSGS + $(field msgs "$RESULT")))

  # The clients are gone (wsload exited; its sockets close with RST). Wait until the server has
  # closed its side of every connection, then give it SETTLE seconds.
  for _ in $(seq 1 300); do # up to 30 s
    (($(fd_count) <= START_FDS + 2)) && break
    sleep 0.1
  done
  left=$(fd_count)
  ((left <= START_FDS + 2)) || die "the server still has $left fds open 30 s after the clients closed (start: $START_FDS)"
  sleep "$SETTLE"
  AFTER_KIB[r]=$(status_kib VmRSS)
  echo "soak: round $r: rss peak $(mib "${PEAK_KIB[r]}") MiB, after close $(mib "${AFTER_KIB[r]}") MiB, fds $left" >&2
done
echo end > "$PHASE_FILE"

# ---- verdict
PEAK=${PEAK_KIB[ROUNDS]}
AFTER=${AFTER_KIB[ROUNDS]}
# Within max(16 MiB, 10% of peak) of start: the connections must give back at least ~90% of what
# they took. The 16 MiB floor (1.6 KiB per connection at 10,000) is allocator slack, not a sign of
# a leak by itself; SOAK_ROUNDS>1 tells the two apart: a leak grows every round, slack does not.
LIMIT=$(( (PEAK / 10 > 16384) ? PEAK / 10 : 16384 ))

# glibc's free() returns memory to the kernel only from the top of a heap, so a few long-lived
# allocations above the connections' memory keep it all resident (measured: ~40 MiB kept with
# ~0.2 MiB in use, with one arena as with three). If RSS did not come back, ask the allocator:
# malloc_stats() (bytes in use) and malloc_trim(0) (which gives back free pages anywhere in the
# heap) through gdb. malloc_trim cannot release live memory, so RSS after it is an upper bound on
# what the server still uses: a leak stays resident and still fails. Without gdb (or with
# SOAK_STRICT=1) the verdict is on RSS after close alone.
TRIM_KIB=""
INUSE_KIB=""
if ((AFTER - START_KIB > LIMIT)) && [ "${SOAK_STRICT:-0}" != 1 ]; then
  if command -v gdb > /dev/null; then
    echo "soak: rss did not return; asking glibc through gdb (malloc_stats, malloc_trim(0))" >&2
    mark=$(wc -l < "$SERVER_LOG")
    if timeout 120 gdb -p "$SERVER" -batch -nx -ex 'call (void)malloc_stats()' \
      -ex 'call (int)malloc_trim(0)' > "$OUT/gdb-$STAMP.log" 2>&1; then
      sleep 1
      TRIM_KIB=$(status_kib VmRSS)
      # malloc_stats() writes to the server's stderr; the last "in use bytes" is the total.
      inuse=$(tail -n +"$((mark + 1))" "$SERVER_LOG" | awk '/in use bytes/ { v = $NF } END { print v }')
      [ -n "$inuse" ] && INUSE_KIB=$((inuse / 1024))
    else
      echo "soak: gdb could not attach (see $OUT/gdb-$STAMP.log); verdict on rss after close alone" >&2
    fi
  else
    echo "soak: gdb not found; cannot tell allocator retention from a leak, verdict on rss after close alone" >&2
  fi
fi

PER_CONN=$(awk -v p="$PEAK" -v s="$START_KIB" -v n="$CONNS" 'BEGIN { printf "%.1f", (p - s) / n }')
RES=${RESULTS[ROUNDS]}
get() { field "$1" "$RES"; }
{
  echo "rss start:          $(mib "$START_KIB") MiB (after startup, before any connection)"
  for ((r = 1; r <= ROUNDS; r++)); do
    echo "round $r:            peak $(mib "${PEAK_KIB[r]}") MiB (max of VmHWM and the samples), after close $(mib "${AFTER_KIB[r]}") MiB"
  done
  echo "rss per connection: $PER_CONN KiB at peak ((peak - start) / $CONNS)"
  [ -n "$TRIM_KIB" ] && echo "after malloc_trim:  $(mib "$TRIM_KIB") MiB; malloc in use before the trim: $(mib "${INUSE_KIB:-0}") MiB"
  echo "last round:         $(get msgs_per_s) msgs/s, p50 $(get p50_us) us, p99 $(get p99_us) us, p99.9 $(get p999_us) us, max $(get max_us) us; server $(get server_us_per_msg) us CPU/msg, connect $(get connect_s) s"
  echo "threshold:          rss after close - start <= $(mib "$LIMIT") MiB (max(16 MiB, 10% of peak))"
  echo "server log:         $(wc -l < "$SERVER_LOG") lines ($SERVER_LOG); rss samples: $CSV"
} | tee "$OUT/summary-$STAMP.txt" >&2

verdict=ok
after_text="$(mib "$AFTER") MiB"
if ((ROUNDS > 1 && AFTER_KIB[ROUNDS] - AFTER_KIB[1] > LIMIT)); then
  verdict="FAIL (rss after close grew by $(mib $((AFTER_KIB[ROUNDS] - AFTER_KIB[1]))) MiB from round 1 to $ROUNDS: a leak)"
elif ((AFTER - START_KIB > LIMIT)); then
  if [ -n "$TRIM_KIB" ] && ((TRIM_KIB - START_KIB <= LIMIT)); then
    after_text="$after_text ($(mib "$TRIM_KIB") MiB after malloc_trim)"
    verdict="ok (glibc kept $(mib $((AFTER - TRIM_KIB))) MiB of freed memory; ${INUSE_KIB:-?} KiB in use)"
  else
    verdict="FAIL (rss after close is $(mib $((AFTER - START_KIB))) MiB above start, limit $(mib "$LIMIT") MiB"
    [ -n "$TRIM_KIB" ] && verdict="$verdict; $(mib "$TRIM_KIB") MiB even after malloc_trim: a leak"
    verdict="$verdict)"
  fi
fi
line="soak: $CONNS connections, $TOTAL_MSGS messages, rss start $(mib "$START_KIB") MiB, peak $(mib "$PEAK") MiB, after $after_text: $verdict"
echo "$line" | tee -a "$OUT/summary-$STAMP.txt"
[ "${verdict%% *}" = ok ]
