#!/usr/bin/env bash
# Runs bench/collective_bench 3 times (or $RUNS) and prints, per
# (implementation, ranks, MiB), the mean bus bandwidth with the min..max of
# the runs, and the mean murmur/Gloo ratio: the table in docs/collective.md.
#   scripts/collective_bench.sh [build dir] [bench flags...]
set -euo pipefail
build=${1:-build}
shift || true
runs=${RUNS:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$runs"); do
  "$build/collective_bench" "$@" >> "$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys, collections
rows = collections.defaultdict(list)
ratios = collections.defaultdict(list)
lat = collections.defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "impl" in r:
        rows[(r["impl"], r["ranks"], r["mib"])].append(r["busbw_gbps"])
        lat[(r["impl"], r["ranks"], r["mib"])].append(r["latency_us"])
    else:
        ratios[(r["ranks"], r["mib"], r.get("mode", "encrypted"))].append(r["murmur_over_gloo_busbw"])
print("| impl | ranks | MiB | busbw GB/s mean (min..max) | latency us mean | runs |")
print("|---|---|---|---|---|---|")
for (impl, n, mib), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
    l = lat[(impl, n, mib)]
    size = f"{-mib:.0f} B" if mib < 0 else f"{mib:.0f}"
    print(f"| {impl} | {n} | {size} | {sum(v)/len(v):.3f} ({min(v):.3f}..{max(v):.3f}) | {sum(l)/len(l):.0f} | {len(v)} |")
for (n, mib, mode), v in sorted(ratios.items()):
    size = f"{-mib} B" if mib < 0 else f"{mib} MiB"
    print(f"ratio murmur ({mode})/gloo busbw, {n} ranks, {size}: {sum(v)/len(v):.2f} ({min(v):.2f}..{max(v):.2f})")
PY
