#!/usr/bin/env bash
# Regenerates the tables of docs/protocols/diloco.md and docs/results.md
# (section "DiLoCo"): 8 peers, the 784-64-10 MLP on Fashion-MNIST (IID),
# Adam (AdamW without decay) lr 1e-3, batch 32; seeds 1-3 for table 1.
#  1. synchronous training, an all-reduce of the models after every step
#     (diloco with H = 1, outer lr 1, no momentum), against DiLoCo with
#     H = 50 inner steps (one pseudo-gradient all-reduce per 50 steps, outer
#     Nesterov lr 0.7, momentum 0.9), both 1,000 steps per peer;
#  2. DiLoCo H = 50 with 2 of the 8 peers sending -4 x their pseudo-gradient
#     (byzantine.attack = "sign-flip", scale 4), aggregated by the mean, the
#     trimmed mean (f = 2), the coordinate-wise median, the same two after
#     nearest-neighbour mixing (robust.pre = ["nnm"], f = 2) and multi-Krum
#     (f = 2, averaging n - f), against clean, over ATTACK_SEEDS (default
#     1-10: the paired differences are noisy at 3);
#  3. what the gap of the plain trimmed mean and median is made of: a clean
#     run of 6 peers (the attacked runs learn from 6 honest shards), and the
#     rules on clean inputs (their own cost without an attacker); and the
#     clean mean against the attacked trimmed mean without outer momentum
#     (is the outer Nesterov step what widens the gap?).
# Runs one at a time on one compute thread under `nice`: 133 runs, about 30
# minutes on one core (~12 s for a run of 20 outer steps, ~25 s for a
# synchronous one). Usage: bash scripts/diloco_results.sh [RUNS_DIR]
# (default runs/diloco; runs already there are kept).
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
done
attack_seeds=(${ATTACK_SEEDS:-1 2 3 4 5 6 7 8 9 10})
for seed in "${attack_seeds[@]}"; do
  run diloco "$seed" --set seed="$seed"
  run mean-attacked "$seed" --set seed="$seed" "${attack[@]}"
  run trimmed-attacked "$seed" --set seed="$seed" "${attack[@]}" \
    --set robust.rule=trimmed-mean --set robust.f=2
  run median-attacked "$seed" --set seed="$seed" "${attack[@]}" --set robust.rule=median
  run nnm-trimmed-attacked "$seed" --set seed="$seed" "${attack[@]}" \
    --set robust.rule=trimmed-mean --set robust.f=2 --set 'robust.pre=["nnm"]'
  run nnm-median-attacked "$seed" --set seed="$seed" "${attack[@]}" \
    --set robust.rule=median --set robust.f=2 --set 'robust.pre=["nnm"]'
  run mkrum-attacked "$seed" --set seed="$seed" "${attack[@]}" \
    --set robust.rule=multi-krum --set robust.f=2
  run clean6 "$seed" --set seed="$seed" --set peers=6
  run trimmed-clean "$seed" --set seed="$seed" --set robust.rule=trimmed-mean --set robust.f=2
  run median-clean "$seed" --set seed="$seed" --set robust.rule=median
  run nnm-trimmed-clean "$seed" --set seed="$seed" \
    --set robust.rule=trimmed-mean --set robust.f=2 --set 'robust.pre=["nnm"]'
  run nomom-clean "$seed" --set seed="$seed" --set diloco.outer_momentum=0
  run nomom-trimmed-attacked "$seed" --set seed="$seed" "${attack[@]}" \
    --set robust.rule=trimmed-mean --set robust.f=2 --set diloco.outer_momentum=0
done
table() {  # SEEDS LABEL=NAME ...: one seed_table.py row per LABEL over NAME-seed<S>
  local seeds=($1) args=()
  shift
  for spec in "$@"; do
    local name=${spec##*=} dirs=()
    for seed in "${seeds[@]}"; do dirs+=("$out/$name-seed$seed"); done
    args+=("${spec%=*}=$(IFS=,; echo "${dirs[*]}")")
  done
  /usr/bin/python3 scripts/seed_table.py loss "${args[@]}"
}
echo "### Synchronous data-parallel vs DiLoCo (H = 50)"
echo
table "1 2 3" "synchronous, 1000 all-reduces=sync" "DiLoCo H=50, 20 all-reduces=diloco"
echo
echo "### 2 of 8 peers sign-flipping (scale 4), DiLoCo H = 50"
echo
table "${attack_seeds[*]}" "clean, mean=diloco" "attacked, mean=mean-attacked" \
  "attacked, trimmed mean f=2=trimmed-attacked" "attacked, median=median-attacked" \
  "attacked, NNM + trimmed mean f=2=nnm-trimmed-attacked" \
  "attacked, NNM + median=nnm-median-attacked" \
  "attacked, multi-Krum f=2=mkrum-attacked"
echo
echo "### Where the plain rules' gap comes from (no attacker)"
echo
table "${attack_seeds[*]}" "clean, mean=diloco" "clean, 6 peers, mean=clean6" \
  "clean, trimmed mean f=2=trimmed-clean" "clean, median=median-clean" \
  "clean, NNM + trimmed mean f=2=nnm-trimmed-clean"
echo
echo "### The same without outer momentum (outer SGD, lr 0.7)"
echo
table "${attack_seeds[*]}" "clean, mean, no outer momentum=nomom-clean" \
  "attacked, trimmed mean f=2, no outer momentum=nomom-trimmed-attacked"
