#!/usr/bin/env bash
# Runs the decentralized protocols of docs/protocols/README.md one at a time
# (32 peers, Fashion-MNIST, Dirichlet(0.5), MLP) and prints its table: final
# accuracy, total traffic, and the virtual time and traffic at which the
# evaluated mean accuracy first reached TARGET (default 0.80). Needs a build
# (scripts/build.sh). Results go to runs/protocols/. ONLY=REGEX runs only the
# rows whose name matches, e.g. ONLY='modest|spsa'.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}
TARGET=${TARGET:-0.80}
OUT=runs/protocols

run() {  # name, args...
  local name=$1
  shift
  if [[ -n ${ONLY:-} && ! $name =~ $ONLY ]]; then return; fi
  "$MURMUR" run "$@" --threads 1 --quiet --out "$OUT/$name" > /dev/null
  # CSV: round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,bytes_sent,...
  awk -F, -v name="$name" -v target="$TARGET" '
    NR == 1 { next }
    { last_round = $1; last_acc = $3; last_bytes = $9; last_time = $2
      if ($3 > best) { best = $3; best_time = $2; best_bytes = $9 }
      if (!hit && $3 >= target) { hit = 1; hit_time = $2; hit_bytes = $9 } }
    END {
      if (hit) reach = sprintf("%8.2f s | %9.1f MB", hit_time, hit_bytes / 1e6)
      else reach = sprintf("not reached (best %.4f at %.2f s, %.1f MB)", best, best_time, best_bytes / 1e6)
      printf "| %-26s | %5d | %.4f | %9.1f | %8.2f | %s |\n", name, last_round, last_acc,
             last_bytes / 1e6, last_time, reach }' "$OUT/$name/metrics.csv"
}

echo "| run | rounds | final acc | total MB | virtual s | to ${TARGET}: virtual s / MB |"
echo "|---|---|---|---|---|---|"
run dpsgd_regular7      examples/epidemic.toml --set protocol.kind=dpsgd \
                        --set protocol.topology=regular --set protocol.degree=7
run epidemic_s7         examples/epidemic.toml
run dpsgd_late_merge    examples/dpsgd_late_merge.toml
run gossip_average      examples/gossip_variance_corrected.toml --set protocol.merge=average
run gossip_variance_corrected examples/gossip_variance_corrected.toml
run gossip_average_240  examples/gossip_variance_corrected.toml --set protocol.merge=average \
                        --set protocol.rounds=240
run gossip_variance_corrected_240 examples/gossip_variance_corrected.toml --set protocol.rounds=240
run gossip_average_same_init examples/gossip_variance_corrected.toml --set protocol.merge=average \
                        --set train.init=same
run modest              examples/modest.toml
run modest_crash80      examples/modest.toml --set sim.crash_fraction=0.8 --set sim.crash_at_s=8
run modest_crash80_timeout05 examples/modest.toml --set sim.crash_fraction=0.8 \
                        --set sim.crash_at_s=8 --set protocol.round_timeout_s=0.5
run fedavg_c0.3125      examples/modest.toml --set protocol.kind=fedavg \
                        --set protocol.client_fraction=0.3125 --set protocol.local_epochs=1 \
                        --set protocol.rounds=40 --set protocol.round_timeout_s=30
run dfedsam_mgs_q3      examples/dfedsam.toml
# SPSA (shared-randomness zeroth-order, 6-byte messages) on the same data
# split; logistic regression, as zeroth-order steps on the MLP need far more
# rounds than the others get here.
run spsa_broadcast      examples/spsa_fashion.toml --set data.partition=dirichlet \
                        --set data.alpha=0.5
