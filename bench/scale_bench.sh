#!/usr/bin/env bash
# Simulator scale (issue 20): N logistic-regression peers run D-PSGD on a
# random 6-regular graph over synthetic 28x28 data (SAMPLES per peer,
# 4 local SGD steps of batch 8, 3 rounds, 32 evaluated peers at the end).
# For each N it prints setup seconds, seconds per round, resident bytes per
# peer beyond a 16-peer run of the same data (peak RSS from /usr/bin/time -v),
# the wall-clock seconds the N-peer run takes beyond that 16-peer run
# (issue 20's "at most 10 s more" at 20,000 peers), and the wall-time speedup of --threads 2 over --threads 1, checking that
# both runs wrote byte-identical metrics.jsonl.
#
#   bash bench/scale_bench.sh              # N = 1,000 and 10,000
#   bash bench/scale_bench.sh --large      # also 20,000 and 100,000
#   bash bench/scale_bench.sh --peers "1000 5000"   # any list
# Env: MURMUR_BIN (default build/murmur), SAMPLES (default 8), ROUNDS (3),
#      SPEEDUP=0 skips the --threads 1 run (memory and setup only).
set -euo pipefail

BIN=${MURMUR_BIN:-build/murmur}
SAMPLES=${SAMPLES:-8}
ROUNDS=${ROUNDS:-3}
SPEEDUP=${SPEEDUP:-1}
PEERS="1000 10000"
while [[ $# -gt 0 ]]; do
  case $1 in
    --large) PEERS="1000 10000 20000 100000" ;;
    --peers) PEERS=$2; shift ;;
    *) echo "usage: $0 [--large] [--peers \"N ...\"]" >&2; exit 2 ;;
  esac
  shift
done
[[ -x $BIN ]] || { echo "$BIN not found; build murmur first (or set MURMUR_BIN)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run NAME PEERS DATA_PEERS THREADS: one run; leaves $TMP/NAME.{log,time,out/}
run() {
  local name=$1 peers=$2 data_peers=$3 threads=$4
  /usr/bin/time -v "$BIN" run examples/dpsgd_1000_peers.toml --threads "$threads" \
    --out "$TMP/$name.out" \
    --set peers="$peers" --set data.dataset=synthetic \
    --set data.synthetic_train=$((data_peers * SAMPLES)) --set data.synthetic_test=1000 \
    --set train.batch_size=8 --set protocol.rounds="$ROUNDS" \
    --set eval.every=1000000 --set eval.test_samples=1000 \
    >"$TMP/$name.log" 2>"$TMP/$name.time"
}
rss_kb() { awk '/Maximum resident set size/ {print $NF}' "$TMP/$1.time"; }
elapsed() {  # wall-clock seconds from "Elapsed (wall clock) time (h:mm:ss or m:ss): M:SS.ss"
  awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' \
    "$TMP/$1.time"
}
setup_s() { sed -n 's/.*(setup \([0-9.]*\)s).*/\1/p' "$TMP/$1.log"; }
wall_s() { sed -n 's/^wall time \([0-9.]*\)s.*/\1/p' "$TMP/$1.log"; }

# Wall-clock figures mean something only on an otherwise idle machine.
echo "# $(nproc) cores; load before:$(uptime | sed 's/.*load average//')"
printf "%-8s %8s %10s %10s %12s %14s %10s %s\n" peers setup_s s_per_round s_over_16 peak_rss_MB bytes_per_peer speedup_2v1 identical
for n in $PEERS; do
  run base 16 "$n" 2
  run n2 "$n" "$n" 2
  base=$(rss_kb base)
  rss=$(rss_kb n2)
  per_peer=$(( (rss - base) * 1024 / (n - 16) ))
  per_round=$(awk -v w="$(wall_s n2)" -v s="$(setup_s n2)" -v r="$ROUNDS" 'BEGIN {printf "%.2f", (w - s) / r}')
  over16=$(awk -v a="$(elapsed n2)" -v b="$(elapsed base)" 'BEGIN {printf "%.1f", a - b}')
  speedup=- same=-
  if [[ $SPEEDUP == 1 ]]; then
    run n1 "$n" "$n" 1
    speedup=$(awk -v a="$(elapsed n1)" -v b="$(elapsed n2)" 'BEGIN {printf "%.2f", a / b}')
    cmp -s "$TMP/n1.out/metrics.jsonl" "$TMP/n2.out/metrics.jsonl" && same=yes || same=NO
  fi
  printf "%-8s %8s %10s %10s %12d %14d %10s %s\n" "$n" "$(setup_s n2)" "$per_round" "$over16" $((rss / 1024)) \
    "$per_peer" "$speedup" "$same"
done
echo "# load after:$(uptime | sed 's/.*load average//')"
