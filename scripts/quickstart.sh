#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the main job: the
# built-in quickstart (16 simulated peers, D-PSGD on a ring, an MLP on
# Fashion-MNIST). Results land in runs/quickstart/. Also installs the Python
# package (`python3 -c "import murmur"`). Extra arguments go to
# `murmur run`, e.g. scripts/quickstart.sh --set protocol.rounds=20
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh murmur
bash scripts/install_python.sh   # `import murmur` (docs/python.md)
./build/murmur run --out runs/quickstart "$@"
