#!/usr/bin/env bash
# Runs every example config of the table in docs/results.md (plus the
# non-IID FedAvg variant) for seeds 1, 2 and 3 and prints that table: final
# accuracy, virtual time and traffic as the mean over the seeds ± the half
# width of the 95% Student-t interval (scripts/seed_table.py final), wall
# time and peak memory likewise (they depend on the machine's load). Needs a
# build (scripts/build.sh). Runs go to runs/results/<name>-s<seed>/ (with
# resources.txt: wall s and peak MB); a finished run is not run again.
# SEEDS="1 2 3" by default; ONLY=REGEX runs only the matching rows. About 10
# minutes of one core per seed.
set -euo pipefail
cd "$(dirname "$0")/.."
MURMUR=${MURMUR:-./build/murmur}
OUT=${OUT:-runs/results}
SEEDS=${SEEDS:-1 2 3}
declare -a ROWS=()

run() {  # name, args...
  local name=$1 dirs=""
  shift
  if [[ -n ${ONLY:-} && ! $name =~ $ONLY ]]; then return; fi
  for seed in $SEEDS; do
    local dir=$OUT/$name-s$seed start end peak
    if ! grep -q '"finished": true' "$dir/summary.json" 2>/dev/null; then
      start=$(date +%s.%N)
      peak=$( { /usr/bin/time -f "%M" "$MURMUR" run "$@" --seed "$seed" --quiet --out "$dir" \
                > /dev/null; } 2>&1 | tail -1)
      end=$(date +%s.%N)
      awk -v s="$start" -v e="$end" -v p="$peak" \
          'BEGIN { printf "wall_s %.2f\npeak_mb %.0f\n", e - s, p / 1024 }' > "$dir/resources.txt"
    fi
    dirs+=${dirs:+,}$dir
  done
  ROWS+=("$name=$dirs")
}

run quickstart        examples/quickstart.toml
run dpsgd_dirichlet01 examples/dpsgd_noniid.toml
run fedavg            examples/fedavg.toml
run fedavg_dirichlet01 examples/fedavg.toml --set data.partition=dirichlet --set data.alpha=0.1
run gossip            examples/gossip.toml
run churn             examples/churn.toml
run dpsgd_1000_peers  examples/dpsgd_1000_peers.toml
/usr/bin/python3 scripts/seed_table.py final "${ROWS[@]}"
