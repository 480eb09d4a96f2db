#!/usr/bin/env bash
# Configures and builds murmur (Release) into build/: everything, or only
# the targets named as arguments (e.g. scripts/build.sh murmur).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
