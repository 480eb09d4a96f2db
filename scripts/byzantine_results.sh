#!/usr/bin/env bash
# Regenerates the Byzantine tables of docs/robustness.md ("Measured") and
# docs/results/byzantine_sweep.md: the FedAvg and D-PSGD grids (seeds 1-3,
# 240 runs each, about 30 minutes of one core each on a quiet machine; runs
# already complete in RUNS_DIR are kept), then the summary over both.
# Writes RUNS_DIR/byzantine_sweep.md (the full tables, as in docs/results/)
# and prints the summary table.
# Usage: bash scripts/byzantine_results.sh [RUNS_DIR]   (default runs/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs}
bin=${MURMUR:-build/murmur}
mkdir -p "$out"
for protocol in fedavg dpsgd; do
  nice -n 10 "$bin" sweep "examples/sweep_byzantine_$protocol.toml" \
      --out "$out/byzantine_$protocol" > "$out/byzantine_$protocol.log" 2>&1
done
{
  echo "# Byzantine sweep: full tables"
  echo
  echo "Produced by \`bash scripts/byzantine_results.sh\` (\`murmur sweep examples/sweep_byzantine_fedavg.toml\` and \`murmur sweep examples/sweep_byzantine_dpsgd.toml\`, seeds 1-3): each cell is the mean over the seeds ± the half width of its 95% Student-t interval; setup in [../robustness.md](../robustness.md#measured). acc_min is the worst evaluated honest peer (D-PSGD); for FedAvg it is the server's model. MB sent is the total over all peers; wall s is one run's mean wall time on the shared 2-core machine (loaded by other work, so an upper bound)."
  echo
  echo "## FedAvg"
  echo
  cat "$out/byzantine_fedavg/results.md"
  echo
  echo "## D-PSGD (random 6-regular graph)"
  echo
  cat "$out/byzantine_dpsgd/results.md"
} > "$out/byzantine_sweep.md"
/usr/bin/python3 scripts/byzantine_summary.py "$out/byzantine_fedavg" "$out/byzantine_dpsgd"
