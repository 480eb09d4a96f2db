#!/usr/bin/env bash
# Configures and builds murmur (Release) into build/: everything, or only
# the targets named as arguments (e.g. scripts/build.sh murmur).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache, when the machine has it, makes rebuilds of a fresh clone fast; the
# build is the same without it.
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" > /dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" "${targets[@]}"
