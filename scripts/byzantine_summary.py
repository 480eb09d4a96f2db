#!/usr/bin/python3
"""The summary table of docs/robustness.md from the two Byzantine sweeps.

  byzantine_summary.py FEDAVG_SWEEP_DIR DPSGD_SWEEP_DIR

Each directory is the --out of `murmur sweep examples/sweep_byzantine_<p>.toml`;
its runs/ holds one run per cell and seed, named
partition-<p>_attack-<a>_rule-<r>_pre-<nnm or _>-s<seed>. Per protocol, data
split and attack, one row: the attack-free plain mean ("clean"), the plain
mean under attack, the best of the 7 robust configurations (the highest mean
final accuracy over the seeds the row shares) and its accuracy: chosen on the
runs it is reported on, a maximum over 7, so it leans optimistic. Every figure is the mean over
the seeds ± the half width of its 95% Student-t interval; "mean loses" and
"gap to clean" are differences in accuracy points paired by seed. For D-PSGD
the worst honest peer's accuracy follows in parentheses.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_table import fmt, read_run  # noqa: E402

RUN_NAME = re.compile(r"partition-(.+)_attack-(.+)_rule-(.+)_pre-(.+)-s(\d+)$")
ATTACKS = ["alie", "ipm", "sign-flip", "label-flip"]
DATA = {"iid": "IID", "dirichlet": "Dir(0.5)"}


def final_accuracies(sweep_dir):
    """{(partition, attack, rule, pre): {seed: (acc_mean, acc_min)}}"""
    cells = {}
    runs = os.path.join(sweep_dir, "runs")
    for name in sorted(os.listdir(runs)):
        match = RUN_NAME.match(name)
        if not match or not os.path.exists(os.path.join(runs, name, "summary.json")):
            continue
        partition, attack, rule, pre, seed = match.groups()
        last = read_run(os.path.join(runs, name))[-1]
        cells.setdefault((partition, attack, rule, pre), {})[int(seed)] = (
            last["acc_mean"], last["acc_min"])
    return cells


def config_name(rule, pre):
    return rule if pre == "_" else f"{rule} after {pre}"


def accuracy(runs, seeds, with_min):
    text = fmt([runs[s][0] for s in seeds], 4)
    if with_min:
        text += " (min " + fmt([runs[s][1] for s in seeds], 3) + ")"
    return text


def points(a, b, seeds):
    return fmt([100 * (a[s][0] - b[s][0]) for s in seeds], 1)


def rows(protocol, cells, with_min):
    for partition, data in DATA.items():
        clean = cells.get((partition, "none", "mean", "_"))
        for attack in ATTACKS:
            mean = cells.get((partition, attack, "mean", "_"))
            robust = {k: v for k, v in cells.items()
                      if k[0] == partition and k[1] == attack and k[2:] != ("mean", "_")}
            if not clean or not mean or not robust:
                continue
            shared = set(clean) & set(mean)

            def score(item):
                seeds = shared & set(item[1])
                return sum(item[1][s][0] for s in seeds) / max(len(seeds), 1)

            key, best = max(robust.items(), key=score)
            seeds = sorted(shared & set(best))
            yield (f"| {protocol} | {data} | {attack} | {accuracy(clean, seeds, False)} | "
                   f"{accuracy(mean, seeds, with_min)} | {points(mean, clean, seeds)} | "
                   f"{config_name(*key[2:])} | {accuracy(best, seeds, with_min)} | "
                   f"{points(best, clean, seeds)} | {len(seeds)} |")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print("| protocol | data | attack | clean (mean) | mean | mean loses (points) | "
          "best robust configuration | its accuracy | gap to clean (points) | seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for protocol, directory, with_min in (("FedAvg", sys.argv[1], False),
                                          ("D-PSGD", sys.argv[2], True)):
        for row in rows(protocol, final_accuracies(directory), with_min):
            print(row)


if __name__ == "__main__":
    main()
