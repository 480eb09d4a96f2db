#!/usr/bin/env python3
"""Wall time of light `murmur` commands, end to end (process start to exit).

Prints, for each command, the median and minimum of N runs in milliseconds:
  * murmur --help
  * murmur aggregate --rule median on 3 .npy vectors of 10 floats
  * murmur-train --help (the full CLI, which loads LibTorch), for comparison
Issue 14's target: the first two at most 50 ms each (the front end,
tools/front_main.cc, does not load LibTorch; before it they took ~360 ms).

Usage: python3 bench/cli_startup_bench.py [--build build] [--repeats 20]
"""

import argparse
import pathlib
import statistics
import subprocess
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGET_MS = 50.0


def time_command(args, repeats):
    times = []
    for _ in range(repeats + 1):  # the first run warms the page cache
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1e3)
    times = times[1:]
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    murmur = str(build / "murmur")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        rng = np.random.default_rng(1)
        for i in range(3):
            path = pathlib.Path(tmp) / f"g{i}.npy"
            np.save(path, rng.standard_normal(10).astype(np.float32))
            inputs.append(str(path))
        commands = [
            ("murmur --help", [murmur, "--help"], True),
            ("murmur aggregate --rule median (3 x 10)",
             [murmur, "aggregate", "--rule", "median", *inputs], True),
            ("murmur-train --help (loads LibTorch)", [str(build / "murmur-train"), "--help"],
             False),
        ]
        print(f"{'command':45} {'median ms':>10} {'min ms':>8}  target")
        for name, command, targeted in commands:
            median, best = time_command(command, args.repeats)
            verdict = ""
            if targeted:
                verdict = f"<= {TARGET_MS:.0f} ms: {'ok' if median <= TARGET_MS else 'MISSED'}"
            print(f"{name:45} {median:10.1f} {best:8.1f}  {verdict}")


if __name__ == "__main__":
    main()
