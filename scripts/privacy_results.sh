#!/usr/bin/env bash
# Regenerates the table of docs/privacy.md ("Measured: DP-FedAvg"): FedAvg
# on Fashion-MNIST with logistic regression, 1000 clients (IID, 60 samples
# each), 100 per round (q = 0.1), 20 rounds of one local epoch, central
# client-level DP with clip C = 1 at epsilon 1, 3 and 8 (delta 1e-5; sigma
# from `murmur privacy epsilon --target-epsilon`) against the non-private
# run; seeds 1-3, one run at a time on one compute thread, under nice.
# Usage: bash scripts/privacy_results.sh [RUNS_DIR]   (default runs/privacy)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/privacy}
bin=${MURMUR_BIN:-build/murmur}
rounds=${PRIVACY_ROUNDS:-20}
mkdir -p "$out"
common=(--set threads=1 --set peers=1000 --set model.kind=logreg --set train.lr=0.1
        --set train.momentum=0 --set protocol.kind=fedavg --set protocol.client_fraction=0.1
        --set protocol.rounds=$rounds --set protocol.local_epochs=1
        --set protocol.round_timeout_s=0 --set eval.every=$rounds --quiet)
sigma_for() {  # the noise multiplier for epsilon $1 at q = 0.1, $rounds steps
  "$bin" privacy epsilon --target-epsilon "$1" --q 0.1 --steps "$rounds" --delta 1e-5 |
    awk '$1 == "sigma" { print $2 }'
}
declare -A sigma=([none]=0)
for eps in 1 3 8; do sigma[$eps]=$(sigma_for $eps); done
for seed in 1 2 3; do
  for eps in none 1 3 8; do
    dir=$out/eps$eps-seed$seed
    [[ -f $dir/summary.json ]] && continue
    privacy=(--set privacy.mode=none)
    if [[ $eps != none ]]; then
      privacy=(--set privacy.mode=central --set privacy.clip=1
               --set privacy.noise_multiplier=${sigma[$eps]} --set privacy.delta=1e-5)
    fi
    nice "$bin" run "${common[@]}" "${privacy[@]}" --set seed=$seed --out "$dir" > /dev/null
  done
done
# Mean over the seeds of the last row, with a 95% Student-t interval (2 df).
/usr/bin/python3 - "$out" "${sigma[1]}" "${sigma[3]}" "${sigma[8]}" <<'PY'
import json, math, statistics, sys
out, sigmas = sys.argv[1], dict(zip(("1", "3", "8"), sys.argv[2:5]))
print("| privacy | noise multiplier | epsilon reported | test accuracy (3 seeds, 95% t) |")
print("|---|---|---|---|")
for eps in ("none", "8", "3", "1"):
    acc, reported = [], []
    for seed in (1, 2, 3):
        with open(f"{out}/eps{eps}-seed{seed}/summary.json") as f:
            s = json.load(f)
        acc.append(s["acc_mean"])
        reported.append(s.get("epsilon"))
    half = 4.303 * statistics.stdev(acc) / math.sqrt(len(acc))
    name = "non-private" if eps == "none" else f"epsilon {eps}, delta 1e-5"
    z = "-" if eps == "none" else f"{float(sigmas[eps]):.3f}"
    rep = "-" if reported[0] is None else f"{reported[0]:.3f}"
    print(f"| {name} | {z} | {rep} | {statistics.mean(acc):.4f} ± {half:.4f} |")
PY
