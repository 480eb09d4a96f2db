#!/usr/bin/env bash
# Regenerates the tables of docs/protocols/co2.md: CO2 (protocol.kind =
# "co2": DiLoCo with one-step-delayed outer steps, a staleness gap penalty
# and outer momentum clipping) against DiLoCo on examples/diloco.toml (8
# peers, the 784-64-10 MLP on Fashion-MNIST, IID, Adam lr 1e-3, H = 50,
# 20 outer steps, 100 Mbit/s links with 5 ms latency), seeds 1-3:
#  1. DiLoCo, undelayed and delayed, with the DiLoCo paper's outer step
#     (Nesterov, lr 0.7, momentum 0.9) and with CO2's released one (plain
#     momentum 0.2, lr 1);
#  2. CO2 with the outer step of the authors' released GPT-2 example (plain
#     momentum 0.2, lr 1, clipping at 1, no gap penalty), and CO2 with gap
#     penalty 4 on the DiLoCo paper's outer step, without momentum clipping
#     and with it at 0.01 (murmur's defaults for protocol.kind = "co2").
# Runs one at a time on one compute thread under `nice`; about 10 minutes on
# one core. Usage: bash scripts/co2_results.sh [RUNS_DIR] (default runs/co2)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/co2}
bin=${MURMUR_BIN:-build/murmur}
mkdir -p "$out"
common=(examples/diloco.toml --set threads=1 --set eval.test_samples=2000 --quiet)
slowmo=(--set diloco.outer_lr=1 --set diloco.outer_momentum=0.2 --set diloco.nesterov=false)
run() {  # NAME SEED ARGS...
  local dir=$out/$1-seed$2 seed=$2
  shift 2
  if [[ ! -f $dir/metrics.csv ]]; then
    nice "$bin" run "${common[@]}" --set seed="$seed" "$@" --out "$dir" > /dev/null
  fi
}
for seed in 1 2 3; do
  run diloco "$seed"
  run diloco-delayed "$seed" --set diloco.delayed=true
  run diloco-slowmo "$seed" "${slowmo[@]}"
  run diloco-delayed-slowmo "$seed" "${slowmo[@]}" --set diloco.delayed=true
  run co2-released "$seed" --set protocol.kind=co2 "${slowmo[@]}" --set co2.gap_penalty=1 \
    --set co2.momentum_clip=1
  run co2-gp4 "$seed" --set protocol.kind=co2 --set co2.momentum_clip=0
  run co2 "$seed" --set protocol.kind=co2
done
rows() {  # LABEL=NAME ...: seed_table.py rows over NAME-seed1..3
  for spec in "$@"; do
    local name=${spec##*=}
    echo "${spec%=*}=$out/$name-seed1,$out/$name-seed2,$out/$name-seed3"
  done
}
mapfile -t all < <(rows \
  "DiLoCo (Nesterov 0.7 / 0.9)=diloco" \
  "delayed DiLoCo (Nesterov 0.7 / 0.9)=diloco-delayed" \
  "DiLoCo (momentum 0.2, lr 1)=diloco-slowmo" \
  "delayed DiLoCo (momentum 0.2, lr 1)=diloco-delayed-slowmo" \
  "CO2, released example (momentum 0.2, lr 1, clip 1)=co2-released" \
  "CO2 gap penalty 4 (Nesterov 0.7 / 0.9)=co2-gp4" \
  "CO2 defaults: gap penalty 4, clip 0.01 (Nesterov 0.7 / 0.9)=co2")
echo "### Final test loss (vs the first row, paired by seed)"
echo
/usr/bin/python3 scripts/seed_table.py loss "${all[@]}"
echo
echo "### Virtual time and bytes"
echo
/usr/bin/python3 scripts/seed_table.py final "${all[@]}"
