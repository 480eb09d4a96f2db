#!/usr/bin/env bash
# Installs the Debian 12 packages murmur needs to build, test and run.
# Idempotent: packages already present are skipped, and `apt-get update` runs
# at most once, only when something is missing. Must run as root (or via sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git time
  clang libclang-rt-14-dev llvm
  libtorch-dev libopenblas0-pthread
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libzstd-dev zlib1g-dev libminizip-dev libsodium-dev libasio-dev libhwy-dev
  libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgloo-dev
  python3-dev pybind11-dev python3-numpy python3-pytest python3-torch
  dataset-fashion-mnist
  fortunes
  iproute2
  python3-pandas python3-matplotlib python3-pil python3-yaml
  libjs-dygraphs chromium
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
