#!/usr/bin/env bash
# Serving benchmark (not a test): loam serve, and beside it llama.cpp's
# llama-server when LLAMA_SERVER names its binary, on the same GGUF with the
# same threads and 16 slots, each loaded with 1, 4 and 16 concurrent clients
# (scripts/bench-serve.py, a second process on loopback), one after the
# other in one sitting. Prints a table and, with llama-server, the ratio.
#   scripts/bench-serve.sh MODEL.gguf [THREADS] [REQUESTS]
# Environment: PROMPT_WORDS (default 8), MAX_TOKENS (default 64) per request;
# BAN_IDS (default 3:259, a synth file's byte tokens; empty for none): see bench-serve.py.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
threads=${2:-$(nproc)}
requests=${3:-32}
loam=${LOAM:-build/loam}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

wait_health() {
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server on port $1 did not start" >&2
  return 1
}

run_load() { # name port
  for c in 1 4 16; do
    n=$requests
    [ "$c" -eq 1 ] && n=$((requests / 4 > 2 ? requests / 4 : 2))
    [ "$c" -eq 4 ] && n=$((requests / 2 > 4 ? requests / 2 : 4))
    printf '%s ' "$1"
    python3 scripts/bench-serve.py --url "http://127.0.0.1:$2" --model "$(basename "$model" .gguf)" --requests "$n" --concurrency "$c" \
      --prompt-words "${PROMPT_WORDS:-8}" --max-tokens "${MAX_TOKENS:-64}" --ban-ids "${BAN_IDS-3:259}"
  done
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $threads threads, file $model"
"$loam" serve "$model" -t "$threads" --parallel 16 -c 4096 --port 18181 >"$tmp/loam.log" 2>&1 &
wait_health 18181
run_load loam 18181 | tee "$tmp/loam.txt"
kill %1; wait %1 2>/dev/null || true
if [ -n "${LLAMA_SERVER:-}" ]; then
  # the same total context: 16 slots of 4096 positions
  "$LLAMA_SERVER" -m "$model" -t "$threads" --parallel 16 -c 65536 --port 18182 --alias "$(basename "$model" .gguf)" \
    >"$tmp/llama.log" 2>&1 &
  wait_health 18182
  run_load llama-server 18182 | tee "$tmp/llama.txt"
  python3 - "$tmp/loam.txt" "$tmp/llama.txt" <<'PY'
import json, sys
a = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1])]
b = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[2])]
print("| clients | loam t/s | llama-server t/s | ratio | loam TTFT p50 / p99 s | llama-server TTFT p50 / p99 s |")
print("|---|---|---|---|---|---|")
for x, y in zip(a, b):
    print("| %d | %.1f | %.1f | %.2fx | %.2f / %.2f | %.2f / %.2f |" % (x["concurrency"], x["tokens_per_s"], y["tokens_per_s"],
          x["tokens_per_s"] / y["tokens_per_s"], x["ttft_p50_s"], x["ttft_p99_s"], y["ttft_p50_s"], y["ttft_p99_s"]))
PY
fi
