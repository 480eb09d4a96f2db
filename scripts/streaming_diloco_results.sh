#!/usr/bin/env bash
# Regenerates the tables of docs/protocols/streaming_diloco.md: 8 peers, the
# 784-64-10 MLP on Fashion-MNIST (IID), Adam lr 1e-3, batch 32, seeds 1-3,
# 1,000 inner steps per peer in every run (examples/diloco.toml's task):
#   * synchronous training (diloco, H = 1, outer lr 1, no momentum);
#   * DiLoCo H = 50 (float32 pseudo-gradients);
#   * Streaming DiLoCo H = 50, P = 4 fragments, tau = 1, float32;
#   * Streaming DiLoCo H = 50, P = 4, tau = 1, 4-bit outer gradients with
#     error feedback (examples/streaming_diloco.toml).
# Prints the loss/bytes table (scripts/seed_table.py) and the peak-exchange
# table: the most bytes one peer sent in one outer exchange (counters
# diloco.peak_exchange_bytes / streaming.peak_exchange_bytes of summary.json,
# summed over the 8 peers), mean over seeds, and its ratio to synchronous
# training's and DiLoCo's. Runs one at a time on one compute thread under
# `nice -n 10`. Usage: bash scripts/streaming_diloco_results.sh [RUNS_DIR]
# (default runs/streaming_diloco; finished runs are reused).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/streaming_diloco}
bin=${MURMUR_BIN:-build/murmur}
mkdir -p "$out"
common=(--set threads=1 --set eval.test_samples=2000 --quiet)
run() {  # NAME SEED CONFIG ARGS...
  local dir=$out/$1-seed$2 seed=$2 config=$3
  shift 3
  if [[ ! -f $dir/metrics.csv ]]; then
    nice -n 10 "$bin" run "$config" "${common[@]}" --set seed="$seed" "$@" --out "$dir" > /dev/null
  fi
}
for seed in 1 2 3; do
  run sync "$seed" examples/diloco.toml --set protocol.local_steps=1 --set protocol.rounds=1000 \
    --set diloco.outer_lr=1 --set diloco.outer_momentum=0 --set eval.every=250
  run diloco "$seed" examples/diloco.toml
  run streaming-fp32 "$seed" examples/streaming_diloco.toml --set streaming.bits=0
  run streaming-4bit "$seed" examples/streaming_diloco.toml
done
rows=()
for spec in "synchronous, 1000 all-reduces=sync" "DiLoCo H=50 (float32)=diloco" \
            "Streaming DiLoCo H=50 P=4 tau=1 (float32)=streaming-fp32" \
            "Streaming DiLoCo H=50 P=4 tau=1 (4-bit)=streaming-4bit"; do
  name=${spec##*=}
  rows+=("${spec%=*}=$out/$name-seed1,$out/$name-seed2,$out/$name-seed3")
done
echo "### Synchronous, DiLoCo and Streaming DiLoCo (8 peers, 1,000 steps each)"
echo
/usr/bin/python3 scripts/seed_table.py loss "${rows[@]}"
echo
echo "### Peak bytes of one outer exchange (one peer's busiest, summed over peers)"
echo
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
def peak(name):
    vals = []
    for seed in (1, 2, 3):
        with open(f"{out}/{name}-seed{seed}/summary.json") as f:
            c = json.load(f)["counters"]
        vals.append(c.get("diloco.peak_exchange_bytes", 0) + c.get("streaming.peak_exchange_bytes", 0))
    return statistics.mean(vals), min(vals), max(vals)
rows = [("synchronous (every step)", "sync"), ("DiLoCo H=50 (float32)", "diloco"),
        ("Streaming P=4 (float32)", "streaming-fp32"), ("Streaming P=4 (4-bit)", "streaming-4bit")]
sync = peak("sync")[0]
dil = peak("diloco")[0]
print("| run | peak exchange KB (min..max over seeds) | lower than synchronous | lower than DiLoCo |")
print("|---|---|---|---|")
for label, name in rows:
    m, lo, hi = peak(name)
    print(f"| {label} | {m/1e3:,.1f} ({lo/1e3:,.1f}..{hi/1e3:,.1f}) | {sync/m:.1f}x | {dil/m:.1f}x |")
PY
