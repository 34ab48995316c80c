#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. the unit and fixture tests (release build), the crafted-file suites
#      in a second process beside the rest,
#   2. the same suite under AddressSanitizer + UBSan (clang), split the same way,
#   3. each libFuzzer target for ~10 s, one per core (scripts/fuzz.sh; `scripts/fuzz.sh
#      --long` or the fuzz-long build target runs them for 10 minutes each).
# Ends with one "N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
export LOAM_FIXTURES=${LOAM_FIXTURES:-$ROOT/../shared/fixtures}
FUZZ_SECONDS=${LOAM_FUZZ_SECONDS:-10}
JOBS=$(nproc)
passed=0
failed=0

# Adds the "N passed, N failed" of a suite's log to the totals; a suite
# that exits non-zero after its summary (a leak report at exit) fails too.
count() {
  local line rc=${3:-0}
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
  if [ -z "$line" ]; then
    failed=$((failed + 1))
    echo "!! $2 printed no summary (crashed?)"
    return
  fi
  passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
  failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
  if [ "$rc" -ne 0 ] && [ "$(echo "$line" | cut -d' ' -f3)" -eq 0 ]; then
    failed=$((failed + 1))
    echo "!! $2 exited with status $rc after reporting no failure (sanitizer report at exit?)"
  fi
}

# Runs a test binary as two processes at once: the crafted-file suites
# (mostly starting loam processes) and the rest (mostly one process
# computing), which alone would each leave a core of the two idle. The rest
# streams; the crafted suites' log follows it. Each log is counted.
run_split() {
  local bin=$1 dir=$2 rc_rest rc_crafted
  "$bin" 'crafted:' >"$dir/tests-crafted.log" 2>&1 &
  local pid=$!
  "$bin" '!crafted:' 2>&1 | tee "$dir/tests.log"
  rc_rest=${PIPESTATUS[0]}
  wait "$pid"
  rc_crafted=$?
  cat "$dir/tests-crafted.log"
  count "$dir/tests.log" "$3 tests" "$rc_rest"
  count "$dir/tests-crafted.log" "$3 crafted-file tests" "$rc_crafted"
}

echo "== release build"
if cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$JOBS" >build.log 2>&1; then
  run_split ./build/loam_tests build release
else
  cat build.log; failed=$((failed + 1))
fi

echo "== AddressSanitizer + UBSan build"
if CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DLOAM_SANITIZE=ON -DLOAM_FUZZ=ON >/dev/null &&
   cmake --build build-asan -j"$JOBS" >build-asan.log 2>&1; then
  rm -rf build-asan/seeds # the crafted suites write the fuzz seeds as they run
  LOAM_CRAFTED_SEEDS=$ROOT/build-asan/seeds ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_split ./build-asan/loam_tests build-asan sanitizer
else
  cat build-asan.log; failed=$((failed + 1))
fi

echo "== fuzz targets (${FUZZ_SECONDS} s each, seeded from the crafted files and the fixtures)"
scripts/fuzz.sh "$FUZZ_SECONDS" | tee build-asan/fuzz.log
count build-asan/fuzz.log "fuzz targets"
rm -f build.log build-asan.log
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
