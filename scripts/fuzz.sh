#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads untrusted bytes: the
# targets of tests/unit/test_fuzz_parsers.c, driven by libFuzzer
# (tests/fuzz/libfuzzer.c) under ASan and UBSan.
#   scripts/fuzz.sh [TARGET...]     every target when none is named
#   FUZZ_SECONDS=N                  each target's run (default 60)
#   FUZZ_JOBS=N                     targets at once (default: the cores)
#   FUZZ_TARGET=list DRIVER         (the driver itself) names the targets
#   FUZZ_BUILD=DIR                  the clang build (default build-fuzz)
# Corpora grow under DIR/corpus/TARGET across runs; an input that crashes
# or fails a check is saved under DIR/crashes/TARGET/ and the script exits
# 1 naming it, with the command that replays it. Needs clang and its
# runtime (`make fuzz` installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
BUILD=${FUZZ_BUILD:-build-fuzz}
case "$SECONDS_EACH$JOBS" in *[!0-9]*) echo "fuzz: FUZZ_SECONDS and FUZZ_JOBS are whole numbers" >&2; exit 2;; esac

CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DGH_TESTS=ON -DGH_LIBFUZZER=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target fuzz_parsers >/dev/null
DRIVER=$BUILD/tests/fuzz_parsers

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(FUZZ_TARGET=list "$DRIVER")
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: the driver named no targets" >&2; exit 1; }

run_one() {	# target: one libFuzzer run; prints one line
  local t=$1 corpus=$BUILD/corpus/$1 crashes=$BUILD/crashes/$1 log=$BUILD/logs/$1.log
  mkdir -p "$corpus" "$crashes" "$BUILD/logs"
  FUZZ_TARGET=$t FUZZ_SEEDS_TO=$corpus "$DRIVER" >/dev/null 2>&1
  local rc=0
  FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$DRIVER" "$corpus" -max_total_time="$SECONDS_EACH" -max_len=16384 -timeout=10 \
    -rss_limit_mb=4096 -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  local runs
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc), log $log; replay: FUZZ_TARGET=$t $DRIVER $crashes/<file>"
    ls "$crashes" | sed 's/^/fuzz:   saved /'
  else
    echo "fuzz: $t ok, ${runs:-?} inputs in ${SECONDS_EACH} s, corpus $(ls "$corpus" | wc -l)"
  fi
  return "$rc"
}

echo "fuzz: ${#targets[@]} targets, ${SECONDS_EACH} s each, ${JOBS} at once"
failed=0
running=()
for t in "${targets[@]}"; do
  run_one "$t" &
  running+=($!)
  if [ ${#running[@]} -ge "$JOBS" ]; then
    wait "${running[0]}" || failed=1
    running=("${running[@]:1}")
  fi
done
for p in "${running[@]}"; do wait "$p" || failed=1; done
exit "$failed"
