#!/usr/bin/env bash
# Regenerates the table of docs/protocols/federated.md: FedAvg, FedProx,
# FedAdam, FedYogi, FedAdagrad, FedAvgM, FedAsync, FedBuff and FedCompass on Fashion-MNIST (MLP,
# 32 clients, Dirichlet(0.5), log-normal device speeds with sigma 1), one run
# at a time on one compute thread. About 20 minutes on 2 cores.
# Usage: bash scripts/federated_results.sh [RUNS_DIR]   (default runs/federated)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/federated}
bin=build/murmur
mkdir -p "$out"
run() {  # name, config, overrides...
  local name=$1 config=$2
  shift 2
  if [[ ! -f $out/$name/metrics.csv ]]; then
    # The asynchronous runs stop at sim.max_time_s and exit 1 on purpose.
    "$bin" run "$config" --set threads=1 "$@" --out "$out/$name" --quiet || true
  fi
}
run fedavg examples/fedadam.toml --set protocol.server_optimizer=fedavg
run fedadam examples/fedadam.toml
run fedyogi examples/fedadam.toml --set protocol.server_optimizer=yogi
run fedadagrad examples/fedadam.toml --set protocol.server_optimizer=adagrad
run fedavgm examples/fedadam.toml --set protocol.server_optimizer=sgd --set protocol.server_lr=1 \
    --set protocol.server_momentum=0.5
run fedprox examples/fedprox.toml --set protocol.local_time_budget_s=0
run fedprox_budget examples/fedprox.toml
# The asynchronous runs go on until sim.max_time_s = 12 virtual seconds.
run fedasync examples/fedasync.toml --set protocol.rounds=100000
run fedbuff examples/fedbuff.toml --set protocol.rounds=100000
run fedcompass examples/fedcompass.toml --set protocol.rounds=100000

# Virtual seconds (and MB sent) to the first evaluation at >= 80% / >= 84% test accuracy,
# accuracy and MB sent at the last evaluation within 12 virtual seconds, and
# at the end of the run.
printf '| run | s to 80%% | MB to 80%% | s to 84%% | acc @12 s | MB @12 s | rounds | end s | acc at end | MB at end |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for name in fedavg fedadam fedyogi fedadagrad fedavgm fedprox fedprox_budget fedasync fedbuff fedcompass; do
  awk -F, -v name="$name" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
      t = $col["time_s"]; a = $col["acc_mean"]; mb = $col["bytes_sent"] / 1e6
      if (t80 == "" && a >= 0.80) { t80 = sprintf("%.1f", t); mb80 = sprintf("%.0f", mb) }
      if (t84 == "" && a >= 0.84) t84 = sprintf("%.1f", t)
      if (t <= 12) { a12 = a; mb12 = mb }
      r = $col["round"]; tend = t; aend = a; mbend = mb
    }
    END {
      if (t80 == "") { t80 = "-"; mb80 = "-" }
      if (t84 == "") t84 = "-"
      printf "| %s | %s | %s | %s | %.4f | %.0f | %d | %.1f | %.4f | %.0f |\n",
             name, t80, mb80, t84, a12, mb12, r, tend, aend, mbend
    }' "$out/$name/metrics.csv"
done
