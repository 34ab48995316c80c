#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   1. the unit and fixture tests (release build),
#   2. the same suite under AddressSanitizer + UBSan (clang),
#   3. each libFuzzer target for ~15 s, one per core (scripts/fuzz.sh; `scripts/fuzz.sh
#      --long` or the fuzz-long build target runs them for 10 minutes each).
# Ends with one "N passed, N failed" line; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
export LOAM_FIXTURES=${LOAM_FIXTURES:-$ROOT/../shared/fixtures}
FUZZ_SECONDS=${LOAM_FUZZ_SECONDS:-15}
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

echo "== release build"
if cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$JOBS" >build.log 2>&1; then
  ./build/loam_tests | tee build/tests.log
  count build/tests.log "release tests" "${PIPESTATUS[0]}"
else
  cat build.log; failed=$((failed + 1))
fi

echo "== AddressSanitizer + UBSan build"
if CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DLOAM_SANITIZE=ON -DLOAM_FUZZ=ON >/dev/null &&
   cmake --build build-asan -j"$JOBS" >build-asan.log 2>&1; then
  rm -rf build-asan/seeds # the crafted suites write the fuzz seeds as they run
  LOAM_CRAFTED_SEEDS=$ROOT/build-asan/seeds ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/loam_tests 2>&1 | tee build-asan/tests.log
  count build-asan/tests.log "sanitizer tests" "${PIPESTATUS[0]}"
else
  cat build-asan.log; failed=$((failed + 1))
fi

echo "== fuzz targets (${FUZZ_SECONDS} s each, seeded from the crafted files and the fixtures)"
scripts/fuzz.sh "$FUZZ_SECONDS" | tee build-asan/fuzz.log
count build-asan/fuzz.log "fuzz targets"
rm -f build.log build-asan.log
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
