#!/usr/bin/env bash
# Runs the single-run tables of docs/robustness.md over seeds 1, 2 and 3, one
# run at a time on one compute thread, and prints them: every figure is the
# mean over the seeds ± the half width of its 95% Student-t interval
# (scripts/seed_table.py final; acc_min is the worst honest peer). Tables:
# SybilWall (examples/sybilwall.toml: 0, 4 and 8 Sybils x four rules), MoNNA
# (examples/monna.toml), and D-PSGD and gossip learning under equivocation
# (examples/byzantine_dpsgd.toml). Needs a build (scripts/build.sh). Runs go
# to runs/robust/<name>-s<seed>/; a run that has a summary.json is not run
# again. ONLY=REGEX runs and tabulates only the rows whose name matches;
# SEEDS="1 2 3 4 5" for more seeds. About 15 minutes of one core.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}
OUT=${OUT:-runs/robust}
SEEDS=${SEEDS:-1 2 3}
declare -a ROWS=()

# run NAME LABEL ARGS...: every seed of one row (scripts/seed_runs.sh).
source scripts/seed_runs.sh
table() {  # prints the rows collected so far, then forgets them
  if [[ ${#ROWS[@]} -gt 0 ]]; then /usr/bin/python3 scripts/seed_table.py final "${ROWS[@]}"; fi
  ROWS=()
  echo
}

echo "SybilWall: 20 peers, random 6-regular graph, Sybils relabel class 0 as 1"
for sybils in 0 4 8; do
  byz=(--set byzantine.count=$sybils)
  if [[ $sybils == 0 ]]; then byz+=(--set byzantine.attack=none); fi
  run "sybilwall_${sybils}_mean" "$sybils Sybils, mean (Metropolis-Hastings)" \
      examples/sybilwall.toml "${byz[@]}" --set robust.rule=mean
  run "sybilwall_${sybils}_similarity" "$sybils Sybils, similarity-downweighting" \
      examples/sybilwall.toml "${byz[@]}" \
      --set robust.rule=similarity-downweighting
  run "sybilwall_${sybils}_logit_off" "$sybils Sybils, sybilwall, logit off" \
      examples/sybilwall.toml "${byz[@]}"
  run "sybilwall_${sybils}_logit_on" "$sybils Sybils, sybilwall, logit on" \
      examples/sybilwall.toml "${byz[@]}" --set sybilwall.logit=true
done
table

echo "MoNNA: 4 of 20 peers sign-flip (scale 10), 300 rounds of one step"
run monna_clean_mean "no attack, mean" examples/monna.toml \
    --set byzantine.attack=none --set robust.rule=mean
run monna_signflip_mean "sign flip, mean" examples/monna.toml --set robust.rule=mean
run monna_signflip_monna "sign flip, monna" examples/monna.toml
table

echo "D-PSGD under equivocation: 4 of 20 peers, byzantine.scale = 10"
run equivocation_mean "mean" examples/byzantine_dpsgd.toml \
    --set byzantine.attack=equivocation --set byzantine.scale=10 --set robust.rule=mean
run equivocation_trimmed "trimmed mean, f = 2" examples/byzantine_dpsgd.toml \
    --set byzantine.attack=equivocation --set byzantine.scale=10
run equivocation_clipping "centered clipping (ClippedGossip), tau = 1, 3 iterations" \
    examples/byzantine_dpsgd.toml --set byzantine.attack=equivocation --set byzantine.scale=10 \
    --set robust.rule=centered-clipping --set robust.tau=1 --set robust.iterations=3
table

echo "Gossip learning under equivocation: the same setup, 30 cycles, window 4"
gossip=(examples/byzantine_dpsgd.toml --set protocol.kind=gossip)
run gossip_clean "no attack, mean" "${gossip[@]}" --set byzantine.attack=none \
    --set robust.rule=mean
run gossip_equivocation_mean "equivocation, mean" "${gossip[@]}" \
    --set byzantine.attack=equivocation --set byzantine.scale=10 --set robust.rule=mean
run gossip_equivocation_trimmed "equivocation, trimmed mean over the window, f = 1" \
    "${gossip[@]}" --set byzantine.attack=equivocation --set byzantine.scale=10 --set robust.f=1
table
