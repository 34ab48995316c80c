#!/usr/bin/env bash
# The main job: build loam and generate a story with the real trained tiny
# Llama (stories260k) from the fixtures, no network needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
MODEL=${LOAM_FIXTURES:-../shared/fixtures}/llm/stories260k
if [ ! -d "$MODEL" ]; then
  echo "no $MODEL (loam pull does not exist yet to fetch a model instead)" >&2
  exit 1
fi
./build/loam info "$MODEL"
./build/loam run "$MODEL" "Once upon a time" -n 200 --temp 0
