#!/usr/bin/env bash
# Builds the Python package `murmur` into build/python/ and makes Debian's
# /usr/bin/python3 find it, offline: a murmur.pth file pointing at
# build/python goes into /usr/local/lib/python3.X/dist-packages (as root) or
# the user's site-packages (otherwise). Rebuilding (scripts/build.sh or this
# script) updates the installed package in place. docs/python.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/usr/bin/python3}
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
cmake --build build -j"$(nproc)" --target murmur_python murmur_python_sim murmur
if [ ! -d build/python/murmur ] || ! ls build/python/murmur/_murmur*.so > /dev/null 2>&1; then
  echo "install_python: build/python/murmur/_murmur*.so was not built;" \
       "install pybind11-dev and python3-dev (scripts/install_deps.sh)" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  site=$("$PYTHON" -c 'import sys; print(f"/usr/local/lib/python{sys.version_info[0]}.{sys.version_info[1]}/dist-packages")')
else
  site=$("$PYTHON" -m site --user-site)
fi
mkdir -p "$site"
echo "$(pwd)/build/python" > "$site/murmur.pth"
# Run from / so the check cannot pick up a stray ./murmur folder.
(cd / && "$PYTHON" -c 'import murmur; print(f"install_python: murmur {murmur.__version__} from {murmur.__file__}")')
