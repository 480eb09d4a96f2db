#!/usr/bin/env bash
# Runs every example config (plus the non-IID FedAvg variant) and prints the
# table in docs/results.md: final accuracy, virtual time, traffic, wall time
# and peak memory. Needs a build (scripts/build.sh). Results go to runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}

run() {  # name, args...
  local name=$1
  shift
  local start end peak
  start=$(date +%s.%N)
  peak=$( { /usr/bin/time -f "%M" "$MURMUR" run "$@" --quiet --out "runs/$name" > /dev/null; } 2>&1 | tail -1)
  end=$(date +%s.%N)
  # Last CSV row: round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,bytes_sent,msgs_sent,...
  tail -1 "runs/$name/metrics.csv" | awk -F, -v name="$name" -v start="$start" -v end="$end" -v peak="$peak" \
    '{ printf "| %-22s | %5d | %.4f | %.4f | %.4f | %8.2f | %9.1f | %6.1f | %6.0f |\n", name, $1, $3, $4, $5, $2, $9 / 1e6, end - start, peak / 1024 }'
}

echo "| run                    | round | acc_mean | acc_min | acc_max | virtual s | MB sent | wall s | peak MB |"
echo "|---|---|---|---|---|---|---|---|---|"
run quickstart        examples/quickstart.toml
run dpsgd_dirichlet01 examples/dpsgd_noniid.toml
run fedavg            examples/fedavg.toml
run fedavg_dirichlet01 examples/fedavg.toml --set data.partition=dirichlet --set data.alpha=0.1
run gossip            examples/gossip.toml
run churn             examples/churn.toml
run dpsgd_1000_peers  examples/dpsgd_1000_peers.toml
