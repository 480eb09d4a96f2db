#!/usr/bin/env bash
# Results must not move unless a change means them to: runs every example
# config for 3 rounds (seed from the config), and the built-in quickstart for
# all its rounds, and compares the sha256 of each
# run's metrics.jsonl with this machine's table in tests/regression/
# (example_hashes*.tsv: one table per kind of machine, see below).
#
#   scripts/check_example_hashes.sh            # compare; exit 1 on a mismatch
#   scripts/check_example_hashes.sh --update   # rewrite this machine's table
#
# Regenerate the table only in a commit whose change is meant to change
# results, and say so in its message. Pretraining examples (*_pretrain.toml)
# run first, in the same scratch folder and with --out runs/<name> as their
# comments say, so the examples that load their checkpoints
# (runs/<name>/*.ckpt) find them. Grids (sweep_*.toml) are not single runs and are
# skipped, as are examples over data the user downloads (a line
# "# external-data: PATH" in the config, e.g. examples/leaf_femnist.toml).
#
# Hashes hold for one LibTorch build on one kind of CPU: OpenBLAS picks its
# kernels by CPU, and other kernels round differently. The table's first
# line records the machine it was made on (CPU model, AVX-512 or not,
# LibTorch and OpenBLAS versions); the check uses the table whose line
# matches this machine. On a machine with no table the hashes cannot be
# compared, so the check runs each example twice and requires the two runs
# to agree (determinism), says so, and tells how to make a table
# (--update writes example_hashes_<cpu>.tsv). An example missing from this
# machine's table (added on another machine) is reported, not failed:
# --update on this machine adds it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
murmur="${MURMUR_BIN:-$root/build/murmur}"
update=0
[ "${1:-}" = "--update" ] && update=1

fingerprint() {
  local cpu avx
  cpu="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: *//')"
  avx="$(grep -q avx512f /proc/cpuinfo && echo avx512 || echo no-avx512)"
  echo "$cpu; $avx; libtorch $(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null); openblas $(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null)"
}
here="$(fingerprint)"
table=""
for t in "$root"/tests/regression/example_hashes*.tsv; do
  [ "$(sed -n 's/^# machine: //p' "$t")" = "$here" ] && table="$t"
done
same_machine=1
if [ -z "$table" ]; then
  # CPU model and AVX-512 or not: the two kinds of one model get two tables.
  slug="$(echo "$here" | cut -d';' -f1-2 | tr -c 'A-Za-z0-9\n' '_' | tr -s '_' | sed 's/_$//')"
  table="$root/tests/regression/example_hashes_${slug}.tsv"
  if [ "$update" -eq 0 ]; then
    same_machine=0
    echo "check_example_hashes: no table in tests/regression/ was made on '$here':"
    echo "  comparing two runs of every example with each other instead of with a table"
    echo "  (make one on this machine with: scripts/check_example_hashes.sh --update)"
  fi
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

examples=()
for f in "$root"/examples/*_pretrain.toml; do examples+=("$f"); done
for f in "$root"/examples/*.toml; do
  case "$(basename "$f")" in *_pretrain.toml|sweep_*.toml) continue ;; esac
  if grep -q '^# external-data:' "$f"; then
    echo "check_example_hashes: skipping $(basename "$f") (runs on data the user downloads)"
    continue
  fi
  examples+=("$f")
done

declare -A expected=()
if [ "$update" -eq 0 ]; then
  while IFS=$'\t' read -r name hash; do
    [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
    expected["$name"]="$hash"
  done < "$table"
fi

out=()
failed=0
# The built-in quickstart runs whole (120 rounds, ~10 s) as "quickstart-full".
for f in "${examples[@]}" quickstart-full; do
  name="$(basename "$f" .toml)"
  args=("$f" --set protocol.rounds=3)
  [ "$f" = quickstart-full ] && args=()
  dir="runs/check-$name"
  case "$name" in *_pretrain) dir="runs/$name" ;; esac
  if ! "$murmur" run "${args[@]}" --out "$dir" > "log-$name.txt" 2>&1; then
    echo "check_example_hashes: $name failed to run:"; tail -5 "log-$name.txt"
    failed=1; continue
  fi
  hash="$(sha256sum "$dir/metrics.jsonl" | cut -c1-64)"
  out+=("$name"$'\t'"$hash")
  if [ "$same_machine" -eq 0 ]; then
    "$murmur" run "${args[@]}" --out "runs/again-$name" > "log2-$name.txt" 2>&1 || true
    again="$(sha256sum "runs/again-$name/metrics.jsonl" 2>/dev/null | cut -c1-64)"
    if [ "$again" != "$hash" ]; then
      echo "check_example_hashes: $name: two runs differ ($hash, ${again:-no metrics})"
      failed=1
    fi
  elif [ "$update" -eq 0 ]; then
    if [ -z "${expected[$name]:-}" ]; then
      echo "check_example_hashes: $name: not in $(basename "$table") (new example?): $hash"
      echo "  (add it with scripts/check_example_hashes.sh --update on this machine)"
    elif [ "${expected[$name]}" != "$hash" ]; then
      echo "check_example_hashes: $name: metrics.jsonl $hash, table has ${expected[$name]:-nothing}"
      failed=1
    fi
  fi
done

if [ "$update" -eq 1 ]; then
  { echo "# machine: $here"
    echo "# example<TAB>sha256 of metrics.jsonl after 3 rounds (scripts/check_example_hashes.sh)"
    printf '%s\n' "${out[@]}"; } > "$table"
  echo "check_example_hashes: wrote ${#out[@]} hashes to $table"
  exit "$failed"
fi
if [ "$failed" -ne 0 ]; then
  echo "check_example_hashes: results moved; if that is intended, rerun with --update and say so in the commit"
  exit 1
fi
if [ "$same_machine" -eq 0 ]; then
  echo "check_example_hashes: ${#out[@]} examples each ran twice with identical metrics (table not compared: other machine)"
else
  echo "check_example_hashes: ${#out[@]} examples match"
fi
