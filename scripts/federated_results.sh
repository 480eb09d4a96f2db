#!/usr/bin/env bash
# Regenerates the table of docs/protocols/federated.md: FedAvg, FedProx,
# FedAdam, FedYogi, FedAdagrad, FedAvgM, FedAsync, FedBuff and FedCompass on Fashion-MNIST (MLP,
# 32 clients, Dirichlet(0.5), log-normal device speeds with sigma 1), one run
# at a time on one compute thread. About 20 minutes on 2 cores.
# Usage: bash scripts/federated_results.sh [RUNS_DIR]   (default runs/federated)
# SEEDS="1 2 3" (default) runs every row for each seed into
# RUNS_DIR/<name>-s<seed>/ and prints each figure as the mean over the seeds
# ± the half width of its 95% Student-t interval (scripts/seed_table.py
# at-time); about 20 minutes of one core per seed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/federated}
bin=${MURMUR:-build/murmur}
SEEDS=${SEEDS:-1 2 3}
mkdir -p "$out"
declare -a ROWS=()
run() {  # name, config, overrides...
  local name=$1 config=$2 dirs=""
  shift 2
  for seed in $SEEDS; do
    local dir=$out/$name-s$seed
    if [[ ! -f $dir/summary.json ]]; then
      nice -n 10 "$bin" run "$config" --set threads=1 "$@" --seed "$seed" --out "$dir" \
          --quiet > /dev/null || true
    fi
    dirs+=${dirs:+,}$dir
  done
  ROWS+=("$name=$dirs")
}
run fedavg examples/fedadam.toml --set protocol.server_optimizer=fedavg
run fedadam examples/fedadam.toml
run fedyogi examples/fedadam.toml --set protocol.server_optimizer=yogi
run fedadagrad examples/fedadam.toml --set protocol.server_optimizer=adagrad
run fedavgm examples/fedadam.toml --set protocol.server_optimizer=sgd --set protocol.server_lr=1 \
    --set protocol.server_momentum=0.5
run fedprox examples/fedprox.toml --set protocol.local_time_budget_s=0
run fedprox_budget examples/fedprox.toml
# The asynchronous runs go on until a budget of 12 virtual seconds ends
# them normally (the examples' sim.max_time_s would cut them as failures).
budget=(--set protocol.rounds=100000 --set sim.max_time_s=1e9 --set sim.budget_time_s=12)
run fedasync examples/fedasync.toml "${budget[@]}"
run fedbuff examples/fedbuff.toml "${budget[@]}"
run fedcompass examples/fedcompass.toml "${budget[@]}"

# Virtual seconds and MB to the first evaluation at >= 80% / >= 84% test
# accuracy, accuracy and MB at the last evaluation within 12 virtual seconds,
# and at the end of the run.
/usr/bin/python3 scripts/seed_table.py at-time --time 12 --targets 0.80,0.84 "${ROWS[@]}"
