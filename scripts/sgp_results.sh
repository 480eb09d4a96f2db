#!/usr/bin/env bash
# Regenerates the table of docs/protocols/sgp.md: SGP (1-peer exponential
# graph) vs D-PSGD (ring, Metropolis-Hastings) on Fashion-MNIST, the
# quickstart's MLP and training with 16 peers and a Dirichlet(0.1) label
# split, 40 rounds of 10 local steps, seeds 1-3; one run at a time on one
# compute thread. About 3 minutes on 2 cores.
# Usage: bash scripts/sgp_results.sh [RUNS_DIR]   (default runs/sgp)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/sgp}
bin=${MURMUR_BIN:-build/murmur}
mkdir -p "$out"
common=(--set threads=1 --set data.partition=dirichlet --set data.alpha=0.1
        --set protocol.rounds=40 --set eval.every=10 --quiet)
for seed in 1 2 3; do
  for kind in dpsgd sgp; do
    dir=$out/$kind-seed$seed
    if [[ ! -f $dir/metrics.jsonl ]]; then
      "$bin" run --set protocol.kind=$kind --set seed=$seed "${common[@]}" --out "$dir" > /dev/null
    fi
  done
done
# Mean over the seeds of the last row, with a 95% Student-t interval (2 df).
/usr/bin/python3 - "$out" <<'PY'
import json, math, statistics, sys
out = sys.argv[1]
rows = {"dpsgd": "D-PSGD, ring", "sgp": "SGP, 1-peer exponential graph"}
print("| protocol | mean accuracy | min accuracy | consensus distance | MB sent |")
print("|---|---|---|---|---|")
for kind, name in rows.items():
    last = []
    for seed in (1, 2, 3):
        with open(f"{out}/{kind}-seed{seed}/metrics.jsonl") as f:
            last.append(json.loads(f.read().splitlines()[-1]))
    def cell(key, scale=1.0, digits=3):
        v = [r[key] * scale for r in last]
        half = 4.303 * statistics.stdev(v) / math.sqrt(len(v))
        return f"{statistics.mean(v):.{digits}f} ± {half:.{digits}f}"
    print(f"| {name} | {cell('acc_mean')} | {cell('acc_min')} | "
          f"{cell('consensus_dist', digits=2)} | {cell('bytes_sent', 1e-6, 0)} |")
PY
