#!/usr/bin/env bash
# Runs the decentralized protocols of docs/protocols/README.md (32 peers,
# Fashion-MNIST, Dirichlet(0.5), MLP) for seeds 1, 2 and 3, one run at a time
# on one compute thread, and prints its tables: every figure is the mean over
# the seeds ± the half width of its 95% Student-t interval
# (scripts/seed_table.py). Needs a build (scripts/build.sh). Runs go to
# runs/protocols/<name>-s<seed>/; a run that has a summary.json is not run
# again. A run that does not finish (exit 1, "finished": false) is reported
# on stderr and left out of its row's statistics, and the row's "seeds"
# column counts only the finished ones; the table lists what was left out. ONLY=REGEX runs and tabulates only the rows whose name
# matches, e.g. ONLY='modest|spsa'; SEEDS="1 2 3 4 5" for more seeds.
# About 35 minutes of one core for the 3 seeds.
#
# Each protocol runs from a config that sets only keys it reads:
# examples/*.toml, and scripts/figures/*.toml for the D-PSGD and FedAvg
# reference rows.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}
OUT=${OUT:-runs/protocols}
SEEDS=${SEEDS:-1 2 3}
declare -a ROWS=()

# run NAME LABEL ARGS...: every seed of one row (scripts/seed_runs.sh).
source scripts/seed_runs.sh
table() {  # mode args...: prints the rows collected so far, then forgets them
  if [[ ${#ROWS[@]} -gt 0 ]]; then /usr/bin/python3 scripts/seed_table.py "$@" "${ROWS[@]}"; fi
  ROWS=()
  echo
}

run dpsgd_regular7 "D-PSGD, random 7-regular graph" scripts/figures/dpsgd_regular7.toml
run epidemic_s7 "Epidemic Learning, s = 7" examples/epidemic.toml
run dpsgd_late_merge "D-PSGD 7-regular, late: 20-round budget incl. final global merge" \
    examples/dpsgd_late_merge.toml
run gossip_average "gossip, plain average (independent init)" \
    examples/gossip_variance_corrected.toml --set protocol.merge=average
run gossip_variance_corrected "gossip, variance-corrected (independent init)" \
    examples/gossip_variance_corrected.toml
run gossip_average_same_init "gossip, plain average (same init)" \
    examples/gossip_variance_corrected.toml --set protocol.merge=average --set train.init=same
run modest "MoDeST, s = 10, a = 2" examples/modest.toml
run modest_crash80 "MoDeST, 80% of peers crash at t = 8 s (converged; round_timeout 2 s)" \
    examples/modest.toml --set sim.crash_fraction=0.8 --set sim.crash_at_s=8
run modest_crash80_timeout05 "MoDeST, 80% crash at t = 8 s, round_timeout 0.5 s" \
    examples/modest.toml --set sim.crash_fraction=0.8 --set sim.crash_at_s=8 \
    --set protocol.round_timeout_s=0.5
run modest_crash80_early "MoDeST, 80% crash at t = 1 s (before convergence; round_timeout 2 s)" \
    examples/modest.toml --set sim.crash_fraction=0.8 --set sim.crash_at_s=1
run dfedsam_mgs_q3 "DFedSAM-MGS, ring, Q = 3, rho = 0.05" examples/dfedsam.toml
run fedavg_c0.3125 "FedAvg, C = 10/32, E = 1 (server)" scripts/figures/fedavg_c10of32.toml
# SPSA (shared-randomness zeroth-order, 6-byte messages) on the same data
# split; logistic regression, as zeroth-order steps on the MLP need far more
# rounds than the others get here.
run spsa_broadcast "SPSA, one-byte broadcast, 1,000 steps (logistic regression)" \
    examples/spsa_fashion.toml --set data.partition=dirichlet --set data.alpha=0.5
table summary --target 0.80

# Epidemic Learning against D-PSGD on a 7-regular graph (docs/protocols/epidemic.md):
# accuracy difference paired by seed, consensus distance, time to each accuracy.
run dpsgd_regular7 "D-PSGD, random 7-regular graph" scripts/figures/dpsgd_regular7.toml
run epidemic_s7 "Epidemic Learning, s = 7" examples/epidemic.toml
table vs-first
run dpsgd_regular7 "D-PSGD, random 7-regular graph" scripts/figures/dpsgd_regular7.toml
run epidemic_s7 "Epidemic Learning, s = 7" examples/epidemic.toml
table reach --targets 0.80,0.82,0.84

# MoDeST against D-PSGD: bytes until the first evaluation at each accuracy.
run dpsgd_regular7 "D-PSGD (7-regular)" scripts/figures/dpsgd_regular7.toml
run modest "MoDeST (s=10, a=2)" examples/modest.toml
table reach --targets 0.80,0.82,0.84 --ratio

# Gossip learning for 240 cycles, both merges from independent initialisations.
run gossip_average_240 "plain average" examples/gossip_variance_corrected.toml \
    --set protocol.merge=average --set protocol.rounds=240
run gossip_variance_corrected_240 "variance-corrected" examples/gossip_variance_corrected.toml \
    --set protocol.rounds=240
table summary --target 0.80
run gossip_average_240 "plain average" examples/gossip_variance_corrected.toml \
    --set protocol.merge=average --set protocol.rounds=240
run gossip_variance_corrected_240 "variance-corrected" examples/gossip_variance_corrected.toml \
    --set protocol.rounds=240
table reach --targets 0.70,0.73,0.76
