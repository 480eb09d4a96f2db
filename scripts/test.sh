#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds, and runs the whole
# test suite (unit, simulation scenarios, CLI integration, runtime, fuzz
# replays, the C++ install consumer), the Python package's pytest suite, then
#  * the runtime's and core's tests again under ASan+UBSan in build-asan/
#    (only the runtime and core are compiled there; no LibTorch);
#  * every fuzz target as a real libFuzzer binary (clang, ASan+UBSan) in
#    build-fuzz/, each for MURMUR_FUZZ_SECONDS (default 7) from its seed
#    corpus; a crash, sanitizer report, leak or timeout fails the run and
#    leaves the input in build-fuzz/fuzz-artifacts/ (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 900
# Functions within 120 lines, src/ files within 500 (docs/architecture.md).
/usr/bin/python3 scripts/check_sizes.py
# Results do not move unless a commit says so (tests/regression/).
bash scripts/check_example_hashes.sh
# The Python package (build/python; docs/python.md). Exit code 5 means pytest
# collected no tests, which must fail the run too.
py_rc=0
/usr/bin/python3 -m pytest tests/python -q || py_rc=$?
if [ "$py_rc" -ne 0 ]; then
  echo "test.sh: pytest tests/python failed (exit $py_rc; 5 = no tests collected)" >&2
  exit 1
fi

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  -DMURMUR_BUILD_BENCH=OFF -DMURMUR_RUNTIME_TEST_ONLY=ON > /dev/null
cmake --build build-asan -j"$(nproc)" --target runtime_test core_test
# The multi-process tests run the release `murmur` binary; they ran above.
build-asan/runtime_test --gtest_filter=-PeerProcesses.*:LaunchLifetime.*:BenchAllreduce.*:SecAggLaunch.*:DpsgdChurn.*:SgpChurn.*:DilocoChurn.*:DilocoRestart.*:StreamingDilocoRestart.*:PeerPersist.*
build-asan/core_test

fuzz_start=$(date +%s)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DMURMUR_FUZZ=ON -DMURMUR_BUILD_TESTS=OFF -DMURMUR_BUILD_BENCH=OFF \
  -DMURMUR_FUZZ_SECONDS="${MURMUR_FUZZ_SECONDS:-7}" > /dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz
ctest --test-dir build-fuzz -j"$(nproc)" --output-on-failure
echo "test.sh: fuzz stage (build and run) took $(( $(date +%s) - fuzz_start )) s"
