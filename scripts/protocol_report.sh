#!/usr/bin/env bash
# The protocol comparison page (docs/results.md#protocol-comparison): five
# protocols on one task, 3 seeds each, compared by `murmur report` at equal
# rounds, traffic and virtual time.
#
#   bash scripts/protocol_report.sh [RUNS_DIR]      (default runs/protocol_report)
#
# Task: 16 peers, synthetic 28x28 data with overlapping classes
# (synthetic_noise 2), Dirichlet(0.3) label skew, MLP 784-32-10, 1 compute
# thread. Protocols: D-PSGD on a ring, CHOCO-SGD on a ring with top-5% + int8
# compression, push gossip on the full graph, Epidemic Learning (fanout 3),
# all 40 rounds of 10 local steps; FedAvg with half the clients per round,
# 20 rounds of one local epoch. Runs go one at a time under `nice`: 15 runs,
# 37 s of CPU in all (1 min 54 s wall on the shared 2-core reference machine
# under load); a run whose summary.json exists is not rerun.
# Writes docs/results/protocols.html (self-contained, interactive),
# docs/results/protocols.md (the table) and docs/results/protocols.png (the
# page in headless Chromium, checked to have drawn without a script error
# and to show every group's colour; needs python3-numpy and python3-pil).
set -euo pipefail
cd "$(dirname "$0")/.."

MURMUR=${MURMUR:-build/murmur}
RUNS=${1:-runs/protocol_report}
DOCS=docs/results
SEEDS=(1 2 3)
PROTOCOLS=(dpsgd choco gossip epidemic fedavg)
COMMON=(--set data.dataset=synthetic --set data.partition=dirichlet --set data.alpha=0.3
        --set data.synthetic_noise=2.0 --set model.hidden=[32] --set peers=16 --set threads=1
        --set eval.every=5 --quiet)

protocol_args() {
  case "$1" in
    dpsgd) echo "--set protocol.kind=dpsgd --set protocol.topology=ring --set protocol.rounds=40" ;;
    choco) echo "--set protocol.kind=choco --set protocol.topology=ring --set protocol.rounds=40
                 --set protocol.choco_gamma=0.5 --set compress.codec=topk:0.05|int8" ;;
    gossip) echo "--set protocol.kind=gossip --set protocol.topology=full --set protocol.rounds=40" ;;
    epidemic) echo "--set protocol.kind=epidemic --set protocol.epidemic_fanout=3
                    --set protocol.rounds=40" ;;
    fedavg) echo "--set protocol.kind=fedavg --set protocol.rounds=20
                  --set protocol.client_fraction=0.5" ;;
  esac
}

for tool in "$MURMUR" chromium; do
  if ! command -v "$tool" > /dev/null; then
    echo "protocol_report.sh: $tool not found (build murmur; scripts/install_deps.sh)" >&2
    exit 2
  fi
done
mkdir -p "$RUNS" "$DOCS"
dirs=()
for protocol in "${PROTOCOLS[@]}"; do
  for seed in "${SEEDS[@]}"; do
    dir="$RUNS/$protocol-s$seed"
    dirs+=("$dir")
    [ -f "$dir/summary.json" ] && continue
    echo "protocol_report.sh: $protocol seed $seed"
    # shellcheck disable=SC2046  # the protocol's --set pairs are words
    nice -n 10 "$MURMUR" run "${COMMON[@]}" $(protocol_args "$protocol") --seed "$seed" \
      --out "$dir" > /dev/null
  done
done

"$MURMUR" report "${dirs[@]}" --table md --at-mb 20 --at-time 1 \
  --title "murmur: five protocols, 16 peers, non-IID synthetic task, 3 seeds" \
  --html "$DOCS/protocols.html" | grep -v '^page in ' > "$DOCS/protocols.md"
cat "$DOCS/protocols.md"

# The screenshot, after checking that every chart drew without an error.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
browse() {
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage \
    --user-data-dir="$profile" \
    --virtual-time-budget=5000 --window-size=1200,1300 --hide-scrollbars "$@" \
    "file://$PWD/$DOCS/protocols.html" 2> /dev/null
}
if ! browse --dump-dom | grep -q '(ready)</title>'; then
  echo "protocol_report.sh: the page did not draw (open $DOCS/protocols.html)" >&2
  exit 1
fi
browse --screenshot="$PWD/$DOCS/protocols.png" > /dev/null
# Every group's colour must show in the screenshot well beyond its legend
# swatches (as tests/python/test_report_page.py checks).
/usr/bin/python3 - "$DOCS/protocols.html" "$DOCS/protocols.png" <<'PY'
import json, re, sys
import numpy
from PIL import Image
html = open(sys.argv[1]).read()
data = json.loads(re.search(r'id="murmur-data">(.*?)</script>', html, re.S).group(1))
pixels = numpy.asarray(Image.open(sys.argv[2]).convert("RGB"), dtype=numpy.int32)
for group in data["groups"]:
    rgb = numpy.array([int(group["color"][i:i + 2], 16) for i in (1, 3, 5)])
    count = int((numpy.abs(pixels - rgb).sum(axis=-1) <= 40).sum())
    print(f"protocol_report.sh: {group['label']} ({group['color']}): {count} pixels")
    if count < 600:
        sys.exit(f"protocol_report.sh: {group['label']} is not visible in the screenshot")
PY
ls -l "$DOCS/protocols.html" "$DOCS/protocols.md" "$DOCS/protocols.png"
