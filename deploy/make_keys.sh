#!/usr/bin/env bash
# Keys for a murmur run whose peers all see one file system (a compose
# volume, a cluster's shared home): DIR/peer-I/peer.key for slots
# 0..SLOTS-1 (`murmur keygen`, mode 0600), one network key DIR/net.key, and
# DIR/allow.txt binding each public key to its slot ("PUBKEY SLOT" lines,
# `murmur id`). On separate machines, run `murmur keygen` on each instead
# and exchange only public keys (docs/runtime.md, "Three machines").
#
#   deploy/make_keys.sh DIR SLOTS        (MURMUR=path/to/murmur to pick the binary)
#
# Idempotent: when DIR/allow.txt exists the keys are kept as they are, so
# restarted peers keep their identities.
set -euo pipefail
dir=${1:?usage: make_keys.sh DIR SLOTS}
slots=${2:?usage: make_keys.sh DIR SLOTS}
murmur=${MURMUR:-murmur}
case "$slots" in
  '' | *[!0-9]*) echo "make_keys.sh: SLOTS must be a number, got '$slots'" >&2; exit 2 ;;
esac
if [ -e "$dir/allow.txt" ]; then
  echo "make_keys.sh: $dir/allow.txt exists; keeping the keys there"
  exit 0
fi
mkdir -p "$dir"
umask 077
: > "$dir/allow.txt.tmp"
for ((i = 0; i < slots; i++)); do
  if [ "$i" -eq 0 ]; then
    "$murmur" keygen "$dir/peer-0" > "$dir/pub.tmp"   # also writes the network key
    mv "$dir/peer-0/net.key" "$dir/net.key"
  else
    "$murmur" keygen --no-network-key "$dir/peer-$i" > "$dir/pub.tmp"
  fi
  echo "$(cat "$dir/pub.tmp") $i" >> "$dir/allow.txt.tmp"
done
rm -f "$dir/pub.tmp"
mv "$dir/allow.txt.tmp" "$dir/allow.txt"
echo "make_keys.sh: $slots key pairs, net.key and allow.txt in $dir"
