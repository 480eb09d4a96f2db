#include <ATen/Context.h>
#include <torch/cuda.h>

#include <string>

#include "murmur/learn/model.h"

namespace murmur {

Result<ComputeDevice> ResolveComputeDevice(const std::string& choice) {
  if (choice == "cpu") return ComputeDevice::kCpu;
  if (choice != "cuda" && choice != "auto") {
    return Status::InvalidArgument("train.device = \"", choice,
                                   "\" is not a device; use \"cpu\", \"cuda\" or \"auto\"");
  }
  if (!torch::cuda::is_available()) {
    if (choice == "auto") return ComputeDevice::kCpu;
    return Status::InvalidArgument(
        "train.device = \"cuda\" but no CUDA device is visible; use \"cpu\" or \"auto\"");
  }
  // Same seed, same device type, same bytes: cuDNN may otherwise pick its
  // algorithms by timing them, and some of them are not deterministic.
  at::globalContext().setBenchmarkCuDNN(false);
  at::globalContext().setDeterministicCuDNN(true);
  return ComputeDevice::kCuda;
}

const char* ComputeDeviceName(ComputeDevice device) {
  return device == ComputeDevice::kCuda ? "cuda" : "cpu";
}

}  // namespace murmur
