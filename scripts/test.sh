#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds, and runs the whole
# test suite (unit, simulation scenarios, CLI integration, runtime), then the
# runtime's tests and fuzz replays again under ASan+UBSan in build-asan/
# (only the runtime and core are compiled there; no LibTorch).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  -DMURMUR_BUILD_BENCH=OFF -DMURMUR_RUNTIME_TEST_ONLY=ON > /dev/null
cmake --build build-asan -j"$(nproc)" --target runtime_test frame_fuzz handshake_fuzz
# The multi-process tests run the release `murmur` binary; they ran above.
build-asan/runtime_test --gtest_filter=-PeerProcesses.*
build-asan/frame_fuzz
build-asan/handshake_fuzz
