#!/usr/bin/env bash
# Memory of `murmur launch 16` on the quickstart config: the summed PSS of
# the 16 `murmur peer` processes, sampled every 0.5 s from
# /proc/<pid>/smaps_rollup (scripts/pss_sampler.py), with each peer's peak
# and the largest peer's breakdown (anonymous vs file-backed, and the
# mappings that hold the most). The reference: a 16-process run of the
# reference Python framework measured 1.4 GB of summed PSS on this kind of
# machine (issue 15); the script prints the ratio to it.
#
# Usage: scripts/launch_memory.sh [BUILD_DIR] [RUNS] [ROUNDS] [-- extra --set args]
#   BUILD_DIR  where murmur is built (default: build)
#   RUNS       how many launches to measure (default: 3)
#   ROUNDS     protocol.rounds of each launch (default: 20: two evaluations,
#              so every peer has trained, evaluated and exchanged models)
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
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
peaks=()
for run in $(seq 1 "$runs"); do
  echo "== run $run: murmur launch $peers examples/quickstart.toml, protocol.rounds=$rounds"
  nice -n 10 "$build/murmur" launch "$peers" examples/quickstart.toml --out "$out/run$run" \
    --quiet --set protocol.rounds="$rounds" "$@" > "$out/launch$run.txt" 2>&1 &
  pid=$!
  python3 scripts/pss_sampler.py "$pid" 0.5 | tee "$out/pss$run.txt"
  if ! wait "$pid"; then
    echo "launch failed:"; tail -20 "$out/launch$run.txt"; exit 1
  fi
  tail -1 "$out/run$run/metrics.jsonl" | cut -c1-160
  peaks+=("$(awk '/^PEAK_SUM_MB/ {print $2}' "$out/pss$run.txt")")
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${peaks[@]}" | awk -v ref="$reference_mb" '
  { v[NR] = $1; s += $1 }
  END { printf "peak summed PSS over %d runs: mean %.1f MB (runs:", NR, s / NR;
        for (i = 1; i <= NR; ++i) printf " %.1f", v[i];
        printf "); reference %d MB; ratio %.2f\n", ref, s / NR / ref }'
