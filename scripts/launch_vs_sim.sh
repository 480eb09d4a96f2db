#!/usr/bin/env bash
# `murmur launch N` against the simulator (docs/runtime.md, "`murmur launch 8`
# vs the simulator"): for each seed, runs CONFIG with N peers once in the
# simulator (`murmur run --threads 1`) and once as N real peer processes over
# loopback TCP (`murmur launch N`), then compares every metrics row the two
# share field by field. Left out: time_s (virtual time in one, wall time in
# the other), consensus_dist (needs every peer's model in one process: null
# in a launch), and bytes_received / max_peer_bytes (read when the row is
# taken: over TCP a neighbour's next-round model may already have arrived).
# Compared exactly: accuracies, test loss, bytes and messages sent, peers
# evaluated. Synchronous D-PSGD with no round timing out mixes the same
# models in the same order, so these must be equal to the last bit.
# train_loss is the mean of the peers' training losses, summed in the
# order the rows arrive (the launcher's merge) rather than the simulator's
# event order, so it may differ in the last bits: it is compared within
# 1e-12 and its largest difference printed.
# Prints one table row per seed and exits 1 if any field differs.
#
#   bash scripts/launch_vs_sim.sh [build/murmur] [out dir]
# Env: SEEDS (default "1 2 3"), PEERS (8), CONFIG (examples/quickstart.toml).
set -euo pipefail
MURMUR=${1:-build/murmur}
OUT=${2:-runs/launch_vs_sim}
SEEDS=${SEEDS:-1 2 3}
PEERS=${PEERS:-8}
CONFIG=${CONFIG:-examples/quickstart.toml}
[[ -x $MURMUR ]] || { echo "$MURMUR not found; build murmur first" >&2; exit 2; }
mkdir -p "$OUT"
status=0
printf '| seed | rows compared | fields differing | train_loss max abs difference | final acc_mean (sim / launch) | MB sent (sim / launch) | launch wall s |\n'
printf '|---:|---:|---:|---:|---|---|---:|\n'
for seed in $SEEDS; do
  sim="$OUT/sim-s$seed" net="$OUT/launch-s$seed"
  rm -rf "$sim" "$net"
  "$MURMUR" run "$CONFIG" --set peers="$PEERS" --set seed="$seed" --threads 1 --quiet \
    --out "$sim" > "$sim.log" 2>&1
  start=$(date +%s.%N)
  "$MURMUR" launch "$PEERS" "$CONFIG" --set seed="$seed" --quiet --out "$net" > "$net.log" 2>&1
  end=$(date +%s.%N)
  /usr/bin/python3 - "$sim/metrics.jsonl" "$net/metrics.jsonl" "$seed" "$start" "$end" <<'PY' || status=1
import json, sys
sim_path, net_path, seed, start, end = sys.argv[1:6]
def rows(path):
    return {r["round"]: r for r in map(json.loads, open(path))}
sim, net = rows(sim_path), rows(net_path)
shared = sorted(set(sim) & set(net))
differing, worst = 0, 0.0
for rnd in shared:
    for key, a in sim[rnd].items():
        if key in ("time_s", "consensus_dist", "bytes_received", "max_peer_bytes"):
            continue
        b = net[rnd].get(key)
        if key == "train_loss" and a is not None and b is not None:
            worst = max(worst, abs(a - b))
        elif a != b:
            differing += 1
last = shared[-1]
print(f"| {seed} | {len(shared)} of {len(sim)} | {differing} | {worst:g} | "
      f"{sim[last]['acc_mean']:.4f} / {net[last]['acc_mean']:.4f} | "
      f"{sim[last]['bytes_sent'] / 1e6:.2f} / {net[last]['bytes_sent'] / 1e6:.2f} | "
      f"{float(end) - float(start):.1f} |")
sys.exit(0 if differing == 0 and worst <= 1e-12 and len(shared) == len(sim) == len(net) else 1)
PY
done
exit $status
