// Kernel variants with a fused finiteness check, for the rules whose cost is
// one pass over memory (a separate scan would double it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/thread_pool.h"
#include "murmur/robust/aggregator.h"

namespace murmur::robust_internal {

// LinearCombination that also sets flags[i] = 1 for every vector with a
// non-finite element when `flags` is non-null (size n). With a flagged input
// `out` is unspecified.
void LinearCombinationScan(VectorList vectors, std::span<const double> coef,
                           double divisor, std::span<float> out,
                           ThreadPool* pool, uint8_t* flags);

// GramMatrix with the same optional fused check.
std::vector<double> GramMatrixScan(VectorList vectors, ThreadPool* pool,
                                   uint8_t* flags);

// Selects vectors[indices[0..]] into `selected`.
inline void Gather(VectorList vectors, std::span<const size_t> indices,
                   std::vector<std::span<const float>>& selected) {
  selected.clear();
  for (size_t i : indices) selected.push_back(vectors[i]);
}

}  // namespace murmur::robust_internal
