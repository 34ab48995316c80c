#!/usr/bin/env bash
# Runs every libFuzzer target of build-asan for SECONDS each, seeded from
# fuzz/corpus/<target> (small hand-made seeds), the crafted files of the
# test suite and the valid fixtures (build-asan/seeds/<target>, made by
# running the crafted suites with LOAM_CRAFTED_SEEDS when it is missing).
#   scripts/fuzz.sh 20            the short runs of the default suite
#   scripts/fuzz.sh --long [S]    fuzz-long: S seconds each (default 600),
#                                 one per core, corpus kept in build-asan/fuzz-corpus
# Prints one "ok"/"FAIL" line per target (runs, execs/s, corpus size) and
# ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export LOAM_FIXTURES=${LOAM_FIXTURES:-$(pwd)/../shared/fixtures}
long=0
if [ "${1:-}" = "--long" ]; then long=1; shift; seconds=${1:-600}; else seconds=${1:-20}; fi
parallel=$(nproc) # one target per core, for the short runs too
ls build-asan/fuzz_* >/dev/null 2>&1 || { echo "FAIL no fuzz targets in build-asan (configure with -DLOAM_FUZZ=ON)"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -d build-asan/seeds ]; then
  LOAM_CRAFTED_SEEDS=$(pwd)/build-asan/seeds ASAN_OPTIONS=detect_leaks=0 ./build-asan/loam_tests "crafted:" >build-asan/seeds.log 2>&1 ||
    { echo "FAIL making the seeds (build-asan/seeds.log)"; echo "0 passed, 1 failed"; exit 1; }
fi
results=$(mktemp -d)

# One target: its verdict line goes to $results/<name>.
fuzz_one() {
  local target=$1 name work log
  name=$(basename "$target" | sed 's/^fuzz_//')
  log="build-asan/fuzz_$name.log"
  if [ "$long" -eq 1 ]; then work="build-asan/fuzz-corpus/$name"; mkdir -p "$work"; else work=$(mktemp -d); fi
  local corpora=("$work")
  [ -d "fuzz/corpus/$name" ] && corpora+=("fuzz/corpus/$name")
  [ -d "build-asan/seeds/$name" ] && corpora+=("build-asan/seeds/$name")
  if "$target" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="build-asan/fuzz_$name-" "${corpora[@]}" >"$log" 2>&1; then
    local runs eps corp
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    echo "ok   fuzz: $name (${seconds} s, $runs runs, $eps execs/s, corpus $corp, no crash)" >"$results/$name"
  else
    { echo "FAIL fuzz: $name"; tail -40 "$log"; } >"$results/$name"
  fi
  [ "$long" -eq 1 ] || rm -rf "$work"
}

running=0
for target in build-asan/fuzz_*; do
  [ -x "$target" ] && [ -f "$target" ] || continue
  case "$(basename "$target")" in *-*) continue ;; esac # artifacts, logs
  fuzz_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
done
wait
passed=$(cat "$results"/* | grep -c '^ok ')
failed=$(cat "$results"/* | grep -c '^FAIL')
cat "$results"/*
rm -rf "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
