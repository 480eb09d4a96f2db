#!/usr/bin/env bash
# ctest install_consumer_test: installs the build tree given as $1 into a
# temporary prefix, checks the installed files (headers, static libraries,
# murmurConfig.cmake, murmur.pc), then configures, builds and runs
# examples/cpp_consumer against that prefix with find_package(murmur), and
# compiles it once more from the pkg-config flags alone.
set -euo pipefail
build=$(cd "$1" && pwd)
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
for f in include/murmur/robust/factory.h include/murmur/compress/codec.h \
         lib/libmurmur_core.a lib/libmurmur_robust.a lib/libmurmur_compress.a \
         lib/cmake/murmur/murmurConfig.cmake lib/cmake/murmur/murmurConfigVersion.cmake \
         lib/cmake/murmur/murmurTargets.cmake lib/pkgconfig/murmur.pc; do
  if [ ! -f "$prefix/$f" ]; then
    echo "consumer_test: $f was not installed" >&2
    exit 1
  fi
done

generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi
cmake -S "$source_dir/examples/cpp_consumer" -B "$tmp/consumer" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/configure.log" \
  || { cat "$tmp/configure.log"; exit 1; }
grep "murmur 0" "$tmp/configure.log"
cmake --build "$tmp/consumer" > "$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
"$tmp/consumer/consumer"

# The same program from pkg-config's flags, without CMake.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
c++ -O1 "$source_dir/examples/cpp_consumer/main.cc" -o "$tmp/consumer_pc" \
  $(pkg-config --cflags --libs murmur)
"$tmp/consumer_pc" > /dev/null
echo "consumer_test: find_package(murmur) and pkg-config consumers built and ran"
