// Private: top-k selection shared by top-k and FEDZIP.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/status.h"

namespace murmur::compress_internal {

// TopKIndices for unchecked input: fills `kept` (increasing; ties at the
// k-th magnitude keep the smallest indices) or returns kInvalidArgument
// naming the first non-finite value (`codec` names the caller), finding
// non-finite values without a separate pass in the common case.
// REQUIRES: k <= x.size().
Status SelectTopK(std::span<const float> x, size_t k, const char* codec,
                  std::vector<uint32_t>& kept);

}  // namespace murmur::compress_internal
