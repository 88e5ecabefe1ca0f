#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS seconds each (default 60), one after the
# other, on the stable toolchain, and ends with one line:
#   fuzz: N targets, M executions, K crashes
# Exits non-zero if any target crashed; the crashing inputs stay in fuzz/artifacts/<target>/.
#
# Non-interactive; needs only cargo (installs cargo-fuzz if it is missing). The committed seed
# corpus (fuzz/corpus/<target>) is copied into a scratch corpus under fuzz/target, so runs
# never dirty the work tree.
#
# `--sanitizer none`: the other sanitizers need nightly's -Zsanitizer. The targets are still
# built with debug assertions and overflow checks (cargo-fuzz's default for release builds).
#
# Environment:
#   FUZZ_NICE     niceness for builds and runs (default 10; the machine is shared)
#   FUZZ_TARGETS  space-separated targets to run (default: all, from `cargo fuzz list`)
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-runs=10000000" for a run bounded by count
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS]  (seconds per target, default 60)" >&2
  exit 2
fi
nice_level="${FUZZ_NICE:-10}"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  nice -n "$nice_level" cargo install cargo-fuzz --locked
fi

build_start=$(date +%s)
nice -n "$nice_level" cargo fuzz build --sanitizer none
echo "fuzz: built in $(($(date +%s) - build_start))s"

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  mapfile -t targets < <(cargo fuzz list)
fi

scratch=fuzz/target/scratch
logs=fuzz/target/logs
mkdir -p "$scratch" "$logs"

total_execs=0
crashes=0
summary=()
for target in "${targets[@]}"; do
  corpus="$scratch/$target"
  rm -rf "$corpus"
  mkdir -p "$corpus" "fuzz/artifacts/$target"
  if [ -d "fuzz/corpus/$target" ]; then
    cp fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  fi
  log="$logs/$target.log"
  start=$(date +%s)
  rc=0
  nice -n "$nice_level" cargo fuzz run --sanitizer none "$target" "$corpus" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 "${extra_args[@]}" >"$log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  # The final stats line; if libFuzzer died before printing it, the last status line.
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then
    execs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
  fi
  execs="${execs:-0}"
  total_execs=$((total_execs + execs))
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ] || [ -n "$artifact" ]; then
    crashes=$((crashes + 1))
    echo "--- $target crashed (exit $rc); last lines of $log:"
    grep -v '^INFO:\|^#' "$log" | tail -n 40 || true
    echo "--- crashing input: ${artifact:-none written (see $log)}"
    if [ -n "$artifact" ]; then
      echo "--- reproduce: cargo fuzz run --sanitizer none $target $artifact"
    fi
    status="CRASHED, input ${artifact:-(see $log)}"
  else
    status="ok"
  fi
  corpus_size=$(find "$corpus" -type f | wc -l)
  line=$(printf '  %-16s %12s executions in %5ss, corpus %5s inputs: %s' \
    "$target" "$execs" "$elapsed" "$corpus_size" "$status")
  echo "$line"
  summary+=("$line")
done

echo
echo "per target (logs in $logs/<target>.log):"
printf '%s\n' "${summary[@]}"
echo "fuzz: ${#targets[@]} targets, $total_execs executions, $crashes crashes"
[ "$crashes" -eq 0 ]
