#!/usr/bin/env bash
# Runs the Fashion-MNIST table of docs/protocols/spsa.md (32 peers, IID,
# logistic regression) for seeds 1, 2 and 3, one run at a time on one
# compute thread, and prints it: every figure is the mean over the seeds ±
# the half width of its 95% Student-t interval (scripts/seed_table.py
# final, then reach). Needs a build (scripts/build.sh). Runs go to
# runs/spsa/<name>-s<seed>/; a run that has a summary.json is not run again.
# ONLY=REGEX runs and tabulates only the rows whose name matches;
# SEEDS="1 2 3 4 5" for more seeds. The char-LM fine-tuning table of the same
# page needs a 6,000-step pretraining first and is not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}
OUT=${OUT:-runs/spsa}
SEEDS=${SEEDS:-1 2 3}
declare -a ROWS=()

# run NAME LABEL ARGS...: every seed of one row (scripts/seed_runs.sh).
source scripts/seed_runs.sh
rows() {
  run spsa "SPSA broadcast, 1,000 steps (examples/spsa_fashion.toml)" examples/spsa_fashion.toml
  run dpsgd "D-PSGD, ring, 300 rounds of 1 SGD step" --set model.kind=logreg --set peers=32 \
      --set protocol.rounds=300 --set protocol.local_steps=1 --set eval.every=100 \
      --set eval.peers=4
  run fedkseed "FedKSeed, 8 of 32 clients, 4 local steps, 250 rounds" examples/spsa_fashion.toml \
      --set spsa.mode=fedkseed --set protocol.rounds=250 --set protocol.local_steps=4 \
      --set protocol.client_fraction=0.25 --set eval.every=50
}
rows
/usr/bin/python3 scripts/seed_table.py final "${ROWS[@]}"
echo
ROWS=()
rows
/usr/bin/python3 scripts/seed_table.py reach --targets 0.66,0.72,0.75,0.80 "${ROWS[@]}"
