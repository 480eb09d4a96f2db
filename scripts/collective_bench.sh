#!/usr/bin/env bash
# Runs bench/collective_bench 3 times (or $RUNS) and prints, per
# (implementation, ranks, MiB), the min / median / max bus bandwidth and
# latency over the runs, and the min / median / max murmur/Gloo ratio (each
# run's ratio compares murmur and Gloo measured in that run): the table in
# docs/collective.md.
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
def mmm(v, fmt):
    v = sorted(v)
    return " / ".join(fmt.format(x) for x in (v[0], v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2, v[-1]))
print("| impl | ranks | size | busbw GB/s min / median / max | latency us min / median / max | runs |")
print("|---|---|---|---|---|---|")
for (impl, n, mib), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
    size = f"{-mib:.0f} B" if mib < 0 else f"{mib:.0f} MiB"
    print(f"| {impl} | {n} | {size} | {mmm(v, '{:.3f}')} | {mmm(lat[(impl, n, mib)], '{:.0f}')} | {len(v)} |")
for (n, mib, mode), v in sorted(ratios.items()):
    size = f"{-mib} B" if mib < 0 else f"{mib} MiB"
    print(f"ratio murmur ({mode}) / gloo busbw, {n} ranks, {size}: {mmm(v, '{:.2f}')} (min / median / max)")
PY
