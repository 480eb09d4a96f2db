#!/usr/bin/env bash
# Memory of `murmur launch 16` on the quickstart config: the summed PSS of
# the 16 `murmur peer` processes, sampled every 0.5 s from
# /proc/<pid>/smaps_rollup (scripts/pss_sampler.py), with each peer's peak
# and the largest peer's breakdown (anonymous vs file-backed, and the
# mappings that hold the most). The reference: a 16-process run of the
# reference Python framework measured 1.4 GB of summed PSS on this kind of
# machine (issue 15); the script prints the ratio to it. With BASELINE=DIR
# (another build, e.g. of main) it also measures one launch of that build,
# in the same conditions, and prints the ratio to it.
#
# Usage: [BASELINE=DIR] scripts/launch_memory.sh [BUILD_DIR] [RUNS] [ROUNDS] [-- --set K=V ...]
#   BUILD_DIR  where murmur is built (default: build)
#   RUNS       how many launches to measure (default: 3)
#   ROUNDS     protocol.rounds of each launch (default: 20: two evaluations,
#              so every peer has loaded, trained, evaluated and exchanged
#              models). protocol.round_timeout_s = 0 (wait for every
#              neighbour) keeps a loaded machine's late messages from
#              changing the results, so the last row printed is the
#              simulator's (`murmur run --set protocol.rounds=ROUNDS`).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-3}
rounds=${3:-20}
shift $(( $# < 3 ? $# : 3 ))
[[ ${1:-} == "--" ]] && shift
reference_mb=1400
peers=16
out=$(mktemp -d /tmp/launch_memory.XXXXXX)
trap 'rm -rf "$out"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GB; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Measures one launch of the murmur in $1; prints the sampler's report and
# the last metrics row; the peak summed PSS (MB) goes to $out/peak_$2.
measure() {
  local bin=$1 tag=$2
  echo "== $tag: $bin/murmur launch $peers examples/quickstart.toml, protocol.rounds=$rounds"
  nice -n 10 "$bin/murmur" launch "$peers" examples/quickstart.toml --out "$out/$tag" --quiet \
    --set protocol.rounds="$rounds" --set protocol.round_timeout_s=0 "${extra[@]}" \
    > "$out/launch_$tag.txt" 2>&1 &
  local pid=$!
  python3 scripts/pss_sampler.py "$pid" 0.5 | tee "$out/pss_$tag.txt"
  if ! wait "$pid"; then
    echo "launch failed:"; tail -20 "$out/launch_$tag.txt"; exit 1
  fi
  echo "last row: $(tail -1 "$out/$tag/metrics.jsonl" | cut -c1-170)"
  awk '/^PEAK_SUM_MB/ {print $2}' "$out/pss_$tag.txt" > "$out/peak_$tag"
}

extra=("$@")
peaks=()
for run in $(seq 1 "$runs"); do
  measure "$build" "run$run"
  peaks+=("$(cat "$out/peak_run$run")")
done
baseline=""
if [[ -n ${BASELINE:-} ]]; then
  measure "$BASELINE" baseline
  baseline=$(cat "$out/peak_baseline")
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${peaks[@]}" | awk -v ref="$reference_mb" -v base="$baseline" '
  { v[NR] = $1; s += $1; if (NR == 1 || $1 > max) max = $1 }
  END { printf "peak summed PSS over %d runs: mean %.1f MB, max %.1f MB (runs:", NR, s / NR, max;
        for (i = 1; i <= NR; ++i) printf " %.1f", v[i];
        printf ")\nagainst the reference framework'"'"'s %d MB: %.2f (mean), %.2f (max)\n",
               ref, s / NR / ref, max / ref;
        if (base != "") printf "against the baseline build (%.1f MB): %.3f\n", base, s / NR / base }'
