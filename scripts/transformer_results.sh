#!/usr/bin/env bash
# Regenerates docs/results.md's "Transformer language model" table:
# examples/transformer_fortunes.toml (FedAvg, 4 clients, a 2-layer 64-wide
# transformer on the `computers` fortunes) over seeds 1-3, one compute
# thread, against the unigram baseline on the same test windows
# (scripts/unigram_baseline.py). Prints the final per-character test loss,
# perplexity and next-character accuracy as mean ± half width of the 95%
# Student-t interval (2 df), the baseline, and each run's wall seconds.
# About 1-2 minutes of one core per seed.
# Usage: bash scripts/transformer_results.sh [RUNS_DIR]   (default runs/transformer)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/transformer}
bin=${MURMUR_BIN:-build/murmur}
config=examples/transformer_fortunes.toml
mkdir -p "$out"
for seed in 1 2 3; do
  dir=$out/seed$seed
  if [[ ! -f $dir/metrics.jsonl ]]; then
    start=$(date +%s.%N)
    "$bin" run "$config" --set seed=$seed --set threads=1 --quiet --out "$dir" > /dev/null
    echo "wall_s $(echo "$(date +%s.%N) - $start" | bc)" > "$dir/resources.txt"
  fi
done
unigram=$(/usr/bin/python3 scripts/unigram_baseline.py /usr/share/games/fortunes/computers \
  --context 64 --test-every 10)
/usr/bin/python3 - "$out" "$unigram" <<'PY'
import json, math, statistics, sys
out, unigram = sys.argv[1], float(sys.argv[2])
last, walls = [], []
for seed in (1, 2, 3):
    with open(f"{out}/seed{seed}/metrics.jsonl") as f:
        last.append(json.loads(f.read().splitlines()[-1]))
    with open(f"{out}/seed{seed}/resources.txt") as f:
        walls.append(float(f.read().split()[1]))
def cell(values, digits=3):
    half = 4.303 * statistics.stdev(values) / math.sqrt(len(values))
    return f"{statistics.mean(values):.{digits}f} ± {half:.{digits}f}"
loss = [r["loss_mean"] for r in last]
print("| model | rounds | test loss (nats/char) | perplexity | next-char accuracy | wall s (1 thread) |")
print("|---|---|---|---|---|---|")
print(f"| unigram (training character frequencies) | - | {unigram:.3f} | {math.exp(unigram):.2f} | - | - |")
print(f"| transformer, FedAvg, 4 clients | {last[0]['round']} | {cell(loss)} | "
      f"{cell([math.exp(v) for v in loss], 2)} | {cell([r['acc_mean'] for r in last])} | "
      f"{cell(walls, 0)} |")
print(f"\nbelow the unigram baseline by {cell([unigram - v for v in loss])} nats/char")
PY
