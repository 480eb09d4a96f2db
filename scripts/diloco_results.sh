#!/usr/bin/env bash
# Regenerates the tables of docs/protocols/diloco.md and docs/results.md
# (section "DiLoCo"): 8 peers, the 784-64-10 MLP on Fashion-MNIST (IID),
# Adam (AdamW without decay) lr 1e-3, batch 32, seeds 1-3.
#  1. synchronous training, an all-reduce of the models after every step
#     (diloco with H = 1, outer lr 1, no momentum), against DiLoCo with
#     H = 50 inner steps (one pseudo-gradient all-reduce per 50 steps, outer
#     Nesterov lr 0.7, momentum 0.9), both 1,000 steps per peer;
#  2. DiLoCo H = 50 with 2 of the 8 peers sending -4 x their pseudo-gradient
#     (byzantine.attack = "sign-flip", scale 4), aggregated by the mean, the
#     trimmed mean (f = 2) and the coordinate-wise median, against clean.
# Runs one at a time on one compute thread under `nice`; about 10 minutes on
# one core. Usage: bash scripts/diloco_results.sh [RUNS_DIR] (default runs/diloco)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/diloco}
bin=${MURMUR_BIN:-build/murmur}
mkdir -p "$out"
common=(examples/diloco.toml --set threads=1 --set eval.test_samples=2000 --quiet)
attack=(--set byzantine.count=2 --set byzantine.attack=sign-flip --set byzantine.scale=4)
run() {  # NAME SEED ARGS...
  local dir=$out/$1-seed$2
  shift 2
  if [[ ! -f $dir/metrics.csv ]]; then
    nice "$bin" run "${common[@]}" "$@" --out "$dir" > /dev/null
  fi
}
for seed in 1 2 3; do
  run sync "$seed" --set seed="$seed" --set protocol.local_steps=1 --set protocol.rounds=1000 \
    --set diloco.outer_lr=1 --set diloco.outer_momentum=0 --set eval.every=250
  run diloco "$seed" --set seed="$seed"
  run mean-attacked "$seed" --set seed="$seed" "${attack[@]}"
  run trimmed-attacked "$seed" --set seed="$seed" "${attack[@]}" \
    --set robust.rule=trimmed-mean --set robust.f=2
  run median-attacked "$seed" --set seed="$seed" "${attack[@]}" --set robust.rule=median
done
table() {  # LABEL=NAME ...: one seed_table.py row per LABEL over NAME-seed1..3
  local args=()
  for spec in "$@"; do
    local name=${spec##*=}
    args+=("${spec%=*}=$out/$name-seed1,$out/$name-seed2,$out/$name-seed3")
  done
  /usr/bin/python3 scripts/seed_table.py loss "${args[@]}"
}
echo "### Synchronous data-parallel vs DiLoCo (H = 50)"
echo
table "synchronous, 1000 all-reduces=sync" "DiLoCo H=50, 20 all-reduces=diloco"
echo
echo "### 2 of 8 peers sign-flipping (scale 4), DiLoCo H = 50"
echo
table "clean, mean=diloco" "attacked, mean=mean-attacked" \
  "attacked, trimmed mean f=2=trimmed-attacked" "attacked, median=median-attacked"
