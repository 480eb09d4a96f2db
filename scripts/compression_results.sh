#!/usr/bin/env bash
# Regenerates the tables of docs/compression.md ("Measured: Fashion-MNIST, 16
# peers") for seeds 1, 2 and 3, one run at a time on one compute thread:
# final accuracy, its difference to the group's uncompressed baseline in
# points (paired by seed), MB sent, accuracy per MB and the final consensus
# distance, each the mean over the seeds ± the half width of its 95%
# Student-t interval (scripts/seed_table.py vs-first). Needs a build
# (scripts/build.sh). Runs go to runs/compression/<name>-s<seed>/; a
# finished run is not run again. ONLY=REGEX runs only the rows whose
# GROUP/NAME matches (groups: dpsgd, dpsgd_loss, gossip_full, gossip_ring,
# fedavg; a group's first row is its baseline), e.g.
# ONLY='^fedavg/|^dpsgd/(dpsgd|choco_sign_g0.9)$'; SEEDS="1 2 3" by default. Every run takes about 30 s of one core: about 40 minutes for
# all groups and 3 seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}
OUT=${OUT:-runs/compression}
SEEDS=${SEEDS:-1 2 3}
declare -a ROWS=()
GROUP=""

group() {  # name: starts a group whose first row is the baseline
  GROUP=$1
}
run() {  # name, label, config, overrides...
  local name=$1 label=$2 dirs=""
  shift 2
  if [[ -n ${ONLY:-} && ! $GROUP/$name =~ $ONLY ]]; then return; fi
  for seed in $SEEDS; do
    local dir=$OUT/$name-s$seed
    if ! grep -q '"finished": true' "$dir/summary.json" 2>/dev/null; then
      nice -n 10 "$MURMUR" run "$@" --seed "$seed" --threads 1 --quiet --out "$dir" > /dev/null
    fi
    dirs+=${dirs:+,}$dir
  done
  ROWS+=("$label=$dirs")
}
table() {
  if [[ ${#ROWS[@]} -gt 0 ]]; then
    echo "$GROUP:"
    /usr/bin/python3 scripts/seed_table.py vs-first "${ROWS[@]}"
    echo
  fi
  ROWS=()
}

group dpsgd  # ring, 120 rounds of 10 local steps (the quickstart)
run dpsgd "D-PSGD, \`fp32\` (uncompressed)" examples/quickstart.toml
run choco_top1 "CHOCO γ=0.5, \`topk:0.01\`" examples/choco_topk.toml --set compress.codec=topk:0.01
run choco_top1_int8 "CHOCO γ=0.5, \`topk:0.01\\|int8\`" examples/choco_topk.toml \
    --set 'compress.codec=topk:0.01|int8'
run choco_top5_int8 "CHOCO γ=0.5, \`topk:0.05\\|int8\`" examples/choco_topk.toml
for gamma in 0.5 0.7 0.9 1.0; do
  run choco_sign_g$gamma "CHOCO γ=$gamma, \`sign\`" examples/choco_sign.toml \
      --set protocol.choco_gamma=$gamma
done
table

group dpsgd_loss  # the same with 5% of messages lost and a 1 s round timeout
run dpsgd_loss5 "D-PSGD, 5% loss, \`fp32\`" examples/quickstart.toml --set sim.loss=0.05 \
    --set protocol.round_timeout_s=1
run choco_sign_g0.9_loss5 "CHOCO γ=0.9, 5% loss, \`sign\`" examples/choco_sign.toml \
    --set sim.loss=0.05 --set protocol.round_timeout_s=1
table

group gossip_full  # examples/gossip.toml: full graph, a push every 0.5 s
run gossip "Gossip, full graph, \`fp32\`" examples/gossip.toml
run gossip_int8 "Gossip, full graph, \`int8\`" examples/gossip_choco.toml --set compress.codec=int8
run gossip_top10_int8 "Gossip, full graph, \`topk:0.1\\|int8\`" examples/gossip_choco.toml \
    --set 'compress.codec=topk:0.1|int8'
run gossip_top5_int8 "Gossip, full graph, \`topk:0.05\\|int8\`" examples/gossip_choco.toml
run gossip_top5_int8_g0.3 "Gossip, full graph, γ=0.3, \`topk:0.05\\|int8\`" \
    examples/gossip_choco.toml --set protocol.choco_gamma=0.3
for gamma in 0.5 0.3 0.9; do
  run gossip_sign_g$gamma "Gossip, full graph, γ=$gamma, \`sign\`" examples/gossip_choco.toml \
      --set compress.codec=sign --set protocol.choco_gamma=$gamma
done
run gossip_top5_int8_loss5 "Gossip, full graph, 5% loss, \`topk:0.05\\|int8\`" \
    examples/gossip_choco.toml --set sim.loss=0.05
table

group gossip_ring
run gossip_ring "Gossip, ring, \`fp32\`" examples/gossip.toml --set protocol.topology=ring
run gossip_ring_top5_int8 "Gossip, ring, \`topk:0.05\\|int8\`" examples/gossip_choco.toml \
    --set protocol.topology=ring
table

group fedavg  # examples/fedavg.toml: all 16 clients, 20 rounds of one local epoch
run fedavg "FedAvg, \`fp32 / fp32\`" examples/fedavg.toml
run fedavg_int8 "FedAvg, \`int8 / int8\`" examples/fedavg_int8.toml
run fedavg_int8_zstd "FedAvg, \`int8\\|zstd / int8\\|zstd\`" examples/fedavg_int8.toml \
    --set 'compress.uplink=int8|zstd' --set 'compress.downlink=int8|zstd'
run fedavg_top5_ef21 "FedAvg, \`topk:0.05\\|int8 + EF21 / int8\`" examples/fedavg_int8.toml \
    --set 'compress.uplink=topk:0.05|int8' --set compress.error_feedback=ef21
table
