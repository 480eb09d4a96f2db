#!/usr/bin/python3
"""Samples the proportional set size (PSS) of a process tree's `murmur peer`
processes until the tree's root exits; used by scripts/launch_memory.sh.

PSS charges each page to the processes mapping it in equal parts, so the sum
over processes is the memory they take together: LibTorch's shared libraries
(file-backed, mapped by every peer) count once in total, not once a process.

Usage: pss_sampler.py ROOT_PID [INTERVAL_S]
Prints the peak summed PSS of the peers (and of the launcher beside them),
each peer's peak, and where the largest peer's memory went at its peak.
"""
import os
import sys
import time

FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Private_Dirty")


def children_of(root):
    """All descendants of `root` (pid -> argv list), from /proc/*/stat."""
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces.
        fields = stat[stat.rfind(")") + 2:].split()
        parent[int(name)] = int(fields[1])
    out, frontier = {}, [root]
    while frontier:
        p = frontier.pop()
        for pid, ppid in parent.items():
            if ppid == p and pid not in out:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        out[pid] = f.read().split(b"\0")
                except OSError:
                    continue
                frontier.append(pid)
    return out


def rollup(pid):
    """smaps_rollup's fields in kB, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    values = {}
    for line in text.splitlines()[1:]:
        key, _, rest = line.partition(":")
        if key in FIELDS:
            values[key] = int(rest.split()[0])
    return values if "Pss" in values else None


def mappings(pid, top=8):
    """The largest PSS contributors of one process, grouped by mapped file
    ('[anon]' for anonymous memory, heap included)."""
    try:
        with open(f"/proc/{pid}/smaps") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    by_name, name = {}, None
    for line in lines:
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:
            name = head[5] if len(head) >= 6 else "[anon]"
            if name == "[heap]":
                name = "[anon]"
        elif line.startswith("Pss:"):
            by_name[name] = by_name.get(name, 0) + int(head[1])
    return sorted(by_name.items(), key=lambda kv: -kv[1])[:top]


def is_peer(argv):
    return len(argv) > 1 and argv[1] == b"peer"


def is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"


def main():
    root = int(sys.argv[1])
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    peak_sum, peak_total, peak_at, samples = 0, 0, 0.0, 0
    peak_count = 0
    per_peer = {}   # pid -> peak Pss (kB)
    largest = (0, None, None, [])  # (pss, pid, rollup, mappings)
    start = time.monotonic()
    while os.path.exists(f"/proc/{root}") and not is_zombie(root):
        tree = children_of(root)
        peers = {pid: rollup(pid) for pid, argv in tree.items() if is_peer(argv)}
        peers = {pid: r for pid, r in peers.items() if r}
        others = [rollup(pid) for pid, argv in tree.items() if not is_peer(argv)]
        others = [r["Pss"] for r in others + [rollup(root)] if r]
        total = sum(r["Pss"] for r in peers.values())
        samples += 1
        if total > peak_sum:
            peak_sum, peak_at, peak_count = total, time.monotonic() - start, len(peers)
            peak_total = total + sum(others)
        for pid, r in peers.items():
            per_peer[pid] = max(per_peer.get(pid, 0), r["Pss"])
            if r["Pss"] > largest[0]:
                largest = (r["Pss"], pid, r, mappings(pid))
        time.sleep(interval)
    mb = lambda kb: kb / 1024.0
    print(f"samples: {samples} every {interval} s over {time.monotonic() - start:.1f} s")
    print(f"peak summed PSS of {peak_count} peer processes: {mb(peak_sum):.1f} MB "
          f"(at {peak_at:.1f} s; with the launcher: {mb(peak_total):.1f} MB)")
    if per_peer:
        peaks = sorted(per_peer.values())
        print(f"per-peer peak PSS: min {mb(peaks[0]):.1f} MB, median "
              f"{mb(peaks[len(peaks) // 2]):.1f} MB, max {mb(peaks[-1]):.1f} MB")
    if largest[1] is not None:
        r = largest[2]
        print(f"largest peer (pid {largest[1]}) at its peak: " +
              ", ".join(f"{k} {mb(r.get(k, 0)):.1f} MB" for k in FIELDS))
        for name, kb in largest[3]:
            print(f"  {mb(kb):8.1f} MB  {name}")
    print(f"PEAK_SUM_MB {mb(peak_sum):.1f}")


if __name__ == "__main__":
    main()
