#!/usr/bin/env bash
# Regenerates the Byzantine tables of docs/robustness.md and
# docs/results/byzantine_sweep.md: the FedAvg and D-PSGD grids (seeds 1-3,
# 240 runs each, about 30 minutes of one core each; runs already complete in
# RUNS_DIR are kept), then the summary table over both.
# Usage: bash scripts/byzantine_results.sh [RUNS_DIR]   (default runs/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs}
bin=${MURMUR:-build/murmur}
mkdir -p "$out"
for protocol in fedavg dpsgd; do
  nice -n 10 "$bin" sweep "examples/sweep_byzantine_$protocol.toml" \
      --out "$out/byzantine_$protocol" > "$out/byzantine_$protocol.log"
  echo "## $protocol: $out/byzantine_$protocol/results.md"
  cat "$out/byzantine_$protocol/results.md"
done
echo "## summary"
/usr/bin/python3 scripts/byzantine_summary.py "$out/byzantine_fedavg" "$out/byzantine_dpsgd"
