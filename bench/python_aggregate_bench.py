#!/usr/bin/env python3
"""murmur.aggregate from Python against the C++ kernel, in the same run.

Prints
  * murmur.aggregate("median", X) on a 50 x 1,000,000 float32 numpy array
    (f = 10, threads picked by murmur: all hardware threads), mean of N;
  * bench/robust_bench's BM_Rule/median_mt/n:50/d:1000000 figure (the same
    rule, n, d and f on all hardware threads), measured now;
  * their ratio (issue 14's target: at most 1.5);
  * the cost of one call on 3 vectors of 10 floats, through murmur.aggregate
    and through the bare extension function (target: at most 20 us; the
    kernel itself is well under 1 us there, so this is the overhead).

Usage: python3 bench/python_aggregate_bench.py [--build build] [--repeats 20]
Needs build/python (scripts/install_python.sh) and build/robust_bench.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def mean_seconds(fn, repeats):
    """Mean wall time of one call (robust_bench reports the mean too)."""
    fn()  # warm up: pool threads, page faults of the output
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def per_call_seconds(fn, calls):
    for _ in range(1000):
        fn()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def robust_bench_ms(build):
    binary = build / "robust_bench"
    if not binary.exists():
        sys.exit(f"{binary} not built: cmake --build {build} --target robust_bench")
    out = subprocess.run([str(binary), "--benchmark_filter=BM_Rule/median_mt/n:50/d:1000000/",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True)
    rows = json.loads(out.stdout)["benchmarks"]
    row = rows[0]
    assert row["time_unit"] == "ms", row
    return row["real_time"], row["name"], int(row.get("threads", 0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    build = pathlib.Path(args.build)
    sys.path.insert(0, str(build / "python"))
    import murmur
    from murmur import _murmur

    x = np.random.default_rng(1).standard_normal((50, 1_000_000), dtype=np.float32)
    py_s = mean_seconds(lambda: murmur.aggregate("median", x, f=10), args.repeats)
    cpp_ms, cpp_name, cpp_threads = robust_bench_ms(build)
    ratio = py_s * 1e3 / cpp_ms
    print(f"murmur.aggregate('median', 50 x 1e6 float32, f=10): {py_s * 1e3:8.2f} ms "
          f"(mean of {args.repeats}, {os.cpu_count()} hardware threads)")
    print(f"robust_bench {cpp_name}: {cpp_ms:8.2f} ms ({cpp_threads} threads)")
    print(f"ratio python / C++: {ratio:.2f} (target <= 1.5)")

    small = np.arange(30, dtype=np.float32).reshape(3, 10)
    wrapped = per_call_seconds(lambda: murmur.aggregate("median", small), 20000)
    bare = per_call_seconds(
        lambda: _murmur.aggregate("median", small, 0, [], {}, None, None, 0, 1), 20000)
    print(f"one call on 3 x 10 floats: murmur.aggregate {wrapped * 1e6:.2f} us, "
          f"bare extension {bare * 1e6:.2f} us (target <= 20 us)")


if __name__ == "__main__":
    main()
