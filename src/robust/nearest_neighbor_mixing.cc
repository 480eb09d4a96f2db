#include "murmur/robust/nearest_neighbor_mixing.h"

#include <algorithm>

#include "murmur/robust/kernels.h"
#include "robust/parallel.h"
#include "robust/vectorize.h"

namespace murmur {
namespace {

constexpr size_t kBlock = 512;

MURMUR_VECTOR_CLONES
void Accumulate(const float* x, double* acc, size_t len) {
  for (size_t k = 0; k < len; ++k) acc[k] += static_cast<double>(x[k]);
}

MURMUR_VECTOR_CLONES
void Finish(const double* acc, double count, float* out, size_t len) {
  for (size_t k = 0; k < len; ++k) out[k] = static_cast<float>(acc[k] / count);
}

}  // namespace

Status NearestNeighborMixing::ApplyChecked(const CheckedInput& in,
                                           std::vector<std::vector<float>>& out) const {
  const size_t n = in.vectors.size();
  const size_t keep = n - static_cast<size_t>(in.f);
  const std::vector<double> sq_dist =
      SquaredDistancesFromGram(GramMatrix(in.vectors, pool()), n);
  std::vector<std::vector<size_t>> neighbours(n);
  for (size_t i = 0; i < n; ++i) {
    neighbours[i] = SmallestK(std::span<const double>(sq_dist).subspan(i * n, n), keep);
  }
  out.resize(n);
  for (auto& v : out) v.resize(in.dim);
  // Blockwise over coordinates so each block of the n inputs is read from
  // memory once and reused from cache by all n outputs.
  robust_internal::ForEachChunk(in.dim, pool(), [&](size_t, size_t begin, size_t end) {
    alignas(64) double acc[kBlock];
    for (size_t b = begin; b < end; b += kBlock) {
      const size_t len = std::min(kBlock, end - b);
      for (size_t i = 0; i < n; ++i) {
        std::fill(acc, acc + len, 0.0);
        for (size_t j : neighbours[i]) Accumulate(in.vectors[j].data() + b, acc, len);
        Finish(acc, static_cast<double>(keep), out[i].data() + b, len);
      }
    }
  });
  return Status::Ok();
}

}  // namespace murmur
