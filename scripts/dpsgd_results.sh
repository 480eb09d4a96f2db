#!/usr/bin/env bash
# Regenerates the table of docs/privacy.md ("Measured: DP-SGD at epsilon 1,
# 3, 8"): sample-level DP-SGD (Abadi et al. 2016) in every peer's learner,
# Fashion-MNIST, logistic regression, 4 peers with IID shards of 15000
# samples in D-PSGD on a ring, expected batch 64 (q = 64/15000), ROUNDS
# rounds of 10 local steps, clip C = 1, sigma solved per peer for epsilon 1,
# 3 and 8 over its ROUNDS * 10 steps (privacy.target_epsilon, delta 1e-5)
# against the same run without DP-SGD; seeds 1-3, one run at a time on one
# compute thread, under nice. Prints a markdown table (scripts/seed_table.py
# statistics: mean over seeds ± 95% Student-t half width).
# Usage: bash scripts/dpsgd_results.sh [RUNS_DIR]   (default runs/dpsgd)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/dpsgd}
bin=${MURMUR_BIN:-build/murmur}
rounds=${DPSGD_ROUNDS:-30}
batch=${DPSGD_BATCH:-64}
mkdir -p "$out"
common=(--set threads=1 --set peers=4 --set model.kind=logreg --set train.batch_size=$batch
        --set train.lr=0.1 --set train.momentum=0.9 --set protocol.kind=dpsgd
        --set protocol.topology=ring --set protocol.rounds=$rounds --set protocol.local_steps=10
        --set protocol.round_timeout_s=0 --set eval.every=$rounds --quiet)
for seed in 1 2 3; do
  for eps in none 8 3 1; do
    dir=$out/eps$eps-seed$seed
    [[ -f $dir/summary.json ]] && continue
    privacy=()
    if [[ $eps != none ]]; then
      privacy=(--set privacy.dp_sgd=true --set privacy.dp_sgd_clip=1
               --set privacy.target_epsilon=$eps --set privacy.delta=1e-5)
    fi
    start=$(date +%s.%N)
    nice "$bin" run "${common[@]}" "${privacy[@]}" --set seed=$seed --out "$dir" > /dev/null
    echo "wall_s $(echo "$(date +%s.%N) - $start" | bc)" > "$dir/resources.txt"
  done
done
rows=()
for eps in none 8 3 1; do
  label=$([[ $eps == none ]] && echo "non-private" || echo "DP-SGD epsilon $eps")
  rows+=("$label=$out/eps$eps-seed1,$out/eps$eps-seed2,$out/eps$eps-seed3")
done
/usr/bin/python3 scripts/seed_table.py vs-first "${rows[@]}"
# The epsilon every run reported (summary.json; the largest over the peers).
for eps in 8 3 1; do
  /usr/bin/python3 -c 'import json,sys; print(sys.argv[1], [round(json.load(open(f"{d}/summary.json"))["epsilon"], 4) for d in sys.argv[2:]])' \
    "epsilon $eps reported:" "$out"/eps$eps-seed{1,2,3}
done
