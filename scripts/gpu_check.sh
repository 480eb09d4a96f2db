#!/usr/bin/env bash
# GPU check for train.device (issue 15), for a machine with a CUDA GPU and a
# murmur built against a CUDA LibTorch (README, "GPU"). Builds nothing: give
# it the binary. Runs examples/resnet_fashion_mnist.toml (ROUNDS rounds) once
# on the CPU and twice with train.device = "cuda", then checks that
#   * the two CUDA runs wrote byte-identical metrics.jsonl (determinism per
#     device type), and
#   * the CUDA run's final mean test accuracy is the CPU run's within TOL
#     (the devices round differently, so bytes differ across them),
# and prints each run's wall time and the CPU/GPU ratio. Exit 0 when both
# hold, 1 when one does not, 2 when it cannot run (no binary, no GPU).
#
#   MURMUR_BIN=build-cuda/murmur bash scripts/gpu_check.sh
#   ROUNDS=3 TOL=0.05 MURMUR_BIN=... bash scripts/gpu_check.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
murmur="${MURMUR_BIN:-$root/build/murmur}"
rounds="${ROUNDS:-10}"
tol="${TOL:-0.03}"
config="$root/examples/resnet_fashion_mnist.toml"
if [ ! -x "$murmur" ]; then
  echo "gpu_check: no murmur binary at $murmur; build one against a CUDA LibTorch and set MURMUR_BIN" >&2
  exit 2
fi
# cuBLAS picks reduction orders by workspace unless told; this pins them.
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# run NAME DEVICE: one run into $scratch/NAME; prints its wall seconds.
run() {
  local start end
  start="$(date +%s.%N)"
  if ! "$murmur" run "$config" --quiet --set protocol.rounds="$rounds" \
      --set train.device="$2" --out "$scratch/$1" > "$scratch/$1.log" 2>&1; then
    echo "gpu_check: the $2 run failed:" >&2
    tail -5 "$scratch/$1.log" >&2
    exit 2
  fi
  end="$(date +%s.%N)"
  echo "$end - $start" | bc
}

final_acc() {
  tail -n 1 "$scratch/$1/metrics.jsonl" | sed -n 's/.*"acc_mean":\([0-9.eE+-]*\).*/\1/p'
}

cpu_s="$(run cpu cpu)"
cuda_s="$(run cuda1 cuda)"
run cuda2 cuda > /dev/null
cpu_acc="$(final_acc cpu)"
cuda_acc="$(final_acc cuda1)"
echo "gpu_check: $rounds rounds of $(basename "$config")"
echo "gpu_check: cpu  final acc_mean $cpu_acc, wall ${cpu_s}s"
echo "gpu_check: cuda final acc_mean $cuda_acc, wall ${cuda_s}s (cpu/cuda $(echo "scale=2; $cpu_s / $cuda_s" | bc)x)"
failed=0
if cmp -s "$scratch/cuda1/metrics.jsonl" "$scratch/cuda2/metrics.jsonl"; then
  echo "gpu_check: two cuda runs: metrics.jsonl byte-identical"
else
  echo "gpu_check: FAIL: two cuda runs of one seed wrote different metrics.jsonl"
  failed=1
fi
if [ "$(echo "d = $cuda_acc - $cpu_acc; if (d < 0) d = -d; d <= $tol" | bc)" = 1 ]; then
  echo "gpu_check: cuda accuracy within $tol of cpu"
else
  echo "gpu_check: FAIL: cuda accuracy $cuda_acc is not within $tol of cpu's $cpu_acc"
  failed=1
fi
exit "$failed"
