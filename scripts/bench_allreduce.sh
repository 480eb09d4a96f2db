#!/usr/bin/env bash
# Runs `murmur bench allreduce` (separate processes on 127.0.0.1, every
# reduced value checked) $RUNS times (default 3) for 2 and 4 processes,
# encrypted and --plain, over shared memory (the default between local
# processes) and over TCP (--tcp), at --mib 64 and at 4 bytes, and prints
# min / median / max bus bandwidth and latency per row: the process table
# in docs/collective.md. Rounds alternate the rows, so load drifts hit them
# alike.
#   scripts/bench_allreduce.sh [build dir]
set -euo pipefail
build=${1:-build}
runs=${RUNS:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$runs"); do
  for procs in 2 4; do
    for size in "--mib 64" "--bytes 4 --reps 50"; do
      for mode in "" "--plain"; do
        for transport in "" "--tcp"; do
          # shellcheck disable=SC2086
          "$build/murmur" bench allreduce --procs "$procs" $size $mode $transport >> "$out"
        done
      done
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = (r["procs"], r["bytes"], "plain" if r["plain"] else "encrypted", r["transport"])
    rows[key].append((r["busbw_gbps"], r["latency_us"]))
def mmm(v, fmt):
    v = sorted(v)
    mid = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
    return " / ".join(fmt.format(x) for x in (v[0], mid, v[-1]))
print("| procs | size | mode | transport | busbw GB/s min / median / max | latency us min / median / max | runs |")
print("|---|---|---|---|---|---|---|")
for (procs, size, mode, transport), v in sorted(rows.items()):
    label = f"{size / 1048576:.0f} MiB" if size >= 1048576 else f"{size:.0f} B"
    print(f"| {procs} | {label} | {mode} | {transport} | {mmm([b for b, _ in v], '{:.3f}')} "
          f"| {mmm([l for _, l in v], '{:.0f}')} | {len(v)} |")
PY
