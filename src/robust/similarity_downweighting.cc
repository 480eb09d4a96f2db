#include "murmur/robust/similarity_downweighting.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "murmur/robust/kernels.h"
#include "robust/kernels_internal.h"

namespace murmur {

Status SimilarityDownweighting::AggregateChecked(const CheckedInput& in,
                                                 std::span<float> out,
                                                 FinitenessScan* scan) const {
  const size_t n = in.vectors.size();
  if (scan != nullptr) scan->flags.assign(n, 0);
  const std::vector<double> gram = robust_internal::GramMatrixScan(
      in.vectors, pool(), scan ? scan->flags.data() : nullptr);
  if (scan != nullptr && scan->any()) return Status::Ok();

  std::vector<double> weight(n, 1.0);
  double largest = 0;
  for (size_t i = 0; i < n; ++i) {
    double max_cos = -1.0;
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      // A zero vector has no direction: similar to nothing. sqrt(G_ii G_jj)
      // rather than the product of norms makes identical inputs' cosine
      // exactly 1, so exact Sybil copies get weight exactly 0 however large.
      const double norms = std::sqrt(gram[i * n + i] * gram[j * n + j]);
      const double cos = norms > 0 ? gram[i * n + j] / norms : 0.0;
      max_cos = std::max(max_cos, cos);
    }
    weight[i] = n == 1 ? 1.0 : std::clamp(1.0 - max_cos, 0.0, 1.0);
    largest = std::max(largest, weight[i]);
  }
  double total = 0;
  if (largest > 0) {
    for (double& w : weight) {
      w /= largest;
      total += w;
    }
  } else {
    std::fill(weight.begin(), weight.end(), 1.0);
    total = static_cast<double>(n);
  }
  LinearCombination(in.vectors, weight, total, out, pool());
  return Status::Ok();
}

}  // namespace murmur
