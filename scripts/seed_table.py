#!/usr/bin/python3
"""Markdown rows over seeds from murmur run directories (metrics.csv).

Each ROW argument is LABEL=DIR[,DIR...]: the runs of one configuration that
differ only in their seed. Every figure is the mean over those runs ± the
half width of its 95% Student-t interval (n - 1 degrees of freedom), the
same statistic as `murmur sweep` (tools/seed_stats.h).

  seed_table.py summary --target 0.80 ROW...   rounds, final/best accuracy,
      MB, virtual s, and virtual s / MB to the first evaluation >= target
  seed_table.py reach --targets 0.70,0.73 ROW...  virtual s and MB to each
      target (how many seeds reached it when not all did); with --ratio, a
      last row: the first ROW's MB over the second's, paired by seed
  seed_table.py final ROW...   last round, final mean/min/max accuracy,
      virtual s, MB sent, and wall s and peak MB where the run directory has
      a resources.txt ("wall_s X" and "peak_mb Y" lines)
  seed_table.py at-time --time 12 --targets 0.80,0.84 ROW...   virtual s /
      MB to each target, accuracy and MB at the last evaluation within
      --time virtual seconds, and rounds, virtual s, accuracy and MB at the end
  seed_table.py loss ROW...   final test loss and accuracy, the loss relative
      to the first ROW's (percent, paired by seed), MB sent and the first
      ROW's bytes over this row's (the communication saving)
  seed_table.py start-end ROW...   test loss and accuracy at the first
      evaluation (round 0) and at the last, and the change in loss (paired by
      seed), MB sent: one row per stage of a pretrain / fine-tune pipeline
  seed_table.py vs-first ROW...   final accuracy, its difference to the first
      ROW in points (paired by seed: the i-th run of each row against the
      first row's i-th run), MB sent, the first row's MB over this row's,
      accuracy per MB and the final consensus distance
"""
import argparse
import csv
import json
import math
import sys

T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def mean_and_half_width(values):
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = T975[n - 2] if n - 1 <= len(T975) else 1.960
    return mean, t * sd / math.sqrt(n)


def fmt(values, digits):
    mean, half = mean_and_half_width(values)
    if half is None:
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ± {half:,.{digits}f}"


def read_run(directory):
    with open(f"{directory}/metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"seed_table.py: {directory}/metrics.csv has no rows")
    return [{k: float(v) for k, v in r.items() if k in
             ("round", "time_s", "acc_mean", "acc_min", "acc_max", "bytes_sent",
              "consensus_dist", "loss_mean")}
            for r in rows]


def first_at(rows, target):
    for r in rows:
        if r["acc_mean"] >= target:
            return r
    return None


def reach_cell(runs, target):
    hits = [first_at(rows, target) for rows in runs]
    reached = [h for h in hits if h is not None]
    if len(reached) == len(runs):
        return (fmt([h["time_s"] for h in reached], 2) + " s / " +
                fmt([h["bytes_sent"] / 1e6 for h in reached], 0) + " MB")
    if not reached:
        return "not reached"
    return (f"{len(reached)}/{len(runs)} seeds: " +
            fmt([h["time_s"] for h in reached], 2) + " s / " +
            fmt([h["bytes_sent"] / 1e6 for h in reached], 0) + " MB")


def read_resources(directory):
    """{"wall_s": x, "peak_mb": y} from DIR/resources.txt, or {} without one."""
    try:
        with open(f"{directory}/resources.txt") as f:
            return {k: float(v) for k, v in (line.split() for line in f if line.strip())}
    except FileNotFoundError:
        return {}


UNFINISHED = []  # notes on runs left out because they did not finish
GIVEN = {}  # label -> how many runs the ROW named, finished or not


def seeds_cell(label, runs):
    """"3", or "2 of 3" when runs of the row were left out."""
    total = GIVEN.get(label, len(runs))
    return str(len(runs)) if total == len(runs) else f"{len(runs)} of {total}"


def summary(directory):
    """DIR/summary.json, or {} without one."""
    try:
        with open(f"{directory}/summary.json") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def parse_rows(specs, with_resources=False):
    """(label, runs[, resources]) per ROW; runs that did not finish are left
    out of the statistics and noted in UNFINISHED."""
    out = []
    for spec in specs:
        label, _, dirs = spec.rpartition("=")
        if not dirs:
            sys.exit(f"seed_table.py: '{spec}' is not LABEL=DIR[,DIR...]")
        kept = []
        GIVEN[label] = len(dirs.split(","))
        for d in dirs.split(","):
            info = summary(d)
            if info.get("finished", True):
                kept.append(d)
            else:
                UNFINISHED.append(f"{label}: {d} stopped at round {info.get('round')} of "
                                  f"{info.get('rounds')} (virtual time "
                                  f"{info.get('virtual_time_s', 0):.2f} s) without finishing")
        if not kept:
            sys.exit(f"seed_table.py: no run of '{label}' finished")
        runs = [read_run(d) for d in kept]
        if with_resources:
            out.append((label, runs, [read_resources(d) for d in kept]))
        else:
            out.append((label, runs))
    return out


def print_final(rows):
    print("| run | seeds | round | acc_mean | acc_min | acc_max | virtual s | MB sent | wall s | "
          "peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, runs, resources in rows:
        last = [r[-1] for r in runs]
        cells = [fmt([x[k] for x in last], 4) for k in ("acc_mean", "acc_min", "acc_max")]
        cells.append(fmt([x["time_s"] for x in last], 2))
        cells.append(fmt([x["bytes_sent"] / 1e6 for x in last], 1))
        for key, digits in (("wall_s", 1), ("peak_mb", 0)):
            v = [r[key] for r in resources if key in r]
            cells.append(fmt(v, digits) if v else "")
        print(f"| {label} | {seeds_cell(label, runs)} | {int(last[0]['round'])} | " +
              " | ".join(cells) + " |")


def paired_with_first(rows):
    """(label, runs, each run's last row, the first row's) per row, paired by seed."""
    base = [r[-1] for r in rows[0][1]]
    for label, runs in rows:
        last = [r[-1] for r in runs]
        if len(last) != len(base):
            sys.exit(f"seed_table.py: '{label}' has {len(last)} runs, the first row {len(base)}")
        yield label, runs, last, base


def print_loss(rows):
    print("| run | seeds | round | final test loss | loss vs first row | accuracy | MB sent | "
          "fewer bytes than first row |")
    print("|---|---|---|---|---|---|---|---|")
    for label, runs, last, base in paired_with_first(rows):
        rel = [100 * (x["loss_mean"] / b["loss_mean"] - 1) for x, b in zip(last, base)]
        mean_rel, half = mean_and_half_width(rel)
        r = f"{mean_rel:+.1f}%" + (f" ± {half:.1f}" if half is not None else "")
        ratio = [b["bytes_sent"] / x["bytes_sent"] for x, b in zip(last, base)]
        print(f"| {label} | {seeds_cell(label, runs)} | {int(last[0]['round'])} | "
              f"{fmt([x['loss_mean'] for x in last], 4)} | {r} | "
              f"{fmt([x['acc_mean'] for x in last], 4)} | "
              f"{fmt([x['bytes_sent'] / 1e6 for x in last], 1)} | {fmt(ratio, 1)}x |")


def print_start_end(rows):
    print("| run | seeds | rounds | test loss at start | at end | change | accuracy at start | "
          "at end | MB sent |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, runs in rows:
        first = [r[0] for r in runs]
        last = [r[-1] for r in runs]
        print(f"| {label} | {seeds_cell(label, runs)} | {int(last[0]['round'])} | "
              f"{fmt([x['loss_mean'] for x in first], 4)} | "
              f"{fmt([x['loss_mean'] for x in last], 4)} | "
              f"{fmt([b['loss_mean'] - a['loss_mean'] for a, b in zip(first, last)], 4)} | "
              f"{fmt([x['acc_mean'] for x in first], 3)} | "
              f"{fmt([x['acc_mean'] for x in last], 3)} | "
              f"{fmt([x['bytes_sent'] / 1e6 for x in last], 2)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["summary", "reach", "vs-first", "final", "at-time",
                                             "loss", "start-end"])
    parser.add_argument("--time", type=float, default=12.0)
    parser.add_argument("--ratio", action="store_true")
    parser.add_argument("--target", type=float, default=0.80)
    parser.add_argument("--targets", default="0.80")
    parser.add_argument("rows", nargs="+")
    args = parser.parse_args()
    if args.mode == "final":
        print_final(parse_rows(args.rows, with_resources=True))
        return
    rows = parse_rows(args.rows)
    if args.mode == "summary":
        t = f"{args.target:.2f}"
        print(f"| run | seeds | rounds | final acc | best acc | total MB | virtual s | "
              f"to {t}: virtual s / MB |")
        print("|---|---|---|---|---|---|---|---|")
        for label, runs in rows:
            last = [r[-1] for r in runs]
            best = [max(x["acc_mean"] for x in r) for r in runs]
            print(f"| {label} | {seeds_cell(label, runs)} | {int(last[0]['round'])} | "
                  f"{fmt([x['acc_mean'] for x in last], 4)} | {fmt(best, 4)} | "
                  f"{fmt([x['bytes_sent'] / 1e6 for x in last], 0)} | "
                  f"{fmt([x['time_s'] for x in last], 2)} | {reach_cell(runs, args.target)} |")
    elif args.mode == "at-time":
        targets = [float(x) for x in args.targets.split(",")]
        t = f"{args.time:g}"
        print("| run | seeds | " + " | ".join(f"to {x:.2f}: virtual s / MB" for x in targets) +
              f" | acc @{t} s | MB @{t} s | rounds | end s | acc at end | MB at end |")
        print("|---|---|" + "---|" * (len(targets) + 6))
        for label, runs in rows:
            within = [[x for x in r if x["time_s"] <= args.time] or r[:1] for r in runs]
            last = [r[-1] for r in runs]
            cells = [reach_cell(runs, x) for x in targets]
            cells += [fmt([w[-1]["acc_mean"] for w in within], 4),
                      fmt([w[-1]["bytes_sent"] / 1e6 for w in within], 0),
                      fmt([x["round"] for x in last], 0), fmt([x["time_s"] for x in last], 1),
                      fmt([x["acc_mean"] for x in last], 4),
                      fmt([x["bytes_sent"] / 1e6 for x in last], 0)]
            print(f"| {label} | {seeds_cell(label, runs)} | " + " | ".join(cells) + " |")
    elif args.mode == "loss":
        print_loss(rows)
    elif args.mode == "start-end":
        print_start_end(rows)
    elif args.mode == "vs-first":
        print("| run | seeds | final accuracy | Δ vs first row (points) | MB sent | fewer bytes | "
              "accuracy per MB | final consensus |")
        print("|---|---|---|---|---|---|---|---|")
        for label, runs, last, base in paired_with_first(rows):
            delta = [100 * (x["acc_mean"] - b["acc_mean"]) for x, b in zip(last, base)]
            mb = [x["bytes_sent"] / 1e6 for x in last]
            ratio = sum(b["bytes_sent"] for b in base) / sum(x["bytes_sent"] for x in last)
            consensus = [x["consensus_dist"] for x in last]
            cons = fmt(consensus, 3) if any(c > 0 for c in consensus) else "–"
            mean_delta, half = mean_and_half_width(delta)
            d = f"{mean_delta:+.2f}" + (f" ± {half:.2f}" if half is not None else "")
            print(f"| {label} | {len(runs)} | {fmt([x['acc_mean'] for x in last], 4)} | {d} | "
                  f"{fmt(mb, 2)} | {ratio:.1f}x | "
                  f"{fmt([x['acc_mean'] / m for x, m in zip(last, mb)], 4)} | {cons} |")
    else:
        targets = [float(x) for x in args.targets.split(",")]
        print("| run | " + " | ".join(f"to {x:.2f}: virtual s / MB" for x in targets) + " |")
        print("|---|" + "---|" * len(targets))
        for label, runs in rows:
            print(f"| {label} | " + " | ".join(reach_cell(runs, x) for x in targets) + " |")
        if args.ratio and len(rows) < 2:
            # e.g. ONLY= in protocol_figures.sh left one of the pair out.
            print("seed_table.py: --ratio needs two rows; no ratio row", file=sys.stderr)
        elif args.ratio:
            cells = []
            for x in targets:
                pairs = [(first_at(a, x), first_at(b, x)) for a, b in zip(rows[0][1], rows[1][1])]
                r = [a["bytes_sent"] / b["bytes_sent"] for a, b in pairs if a and b]
                cells.append(f"{fmt(r, 1)}x (seeds: " + ", ".join(f"{v:.1f}x" for v in r) + ")"
                             if r else "–")
            print(f"| MB ratio, {rows[0][0]} / {rows[1][0]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
    for note in UNFINISHED:
        print(f"* left out: {note}")
