#include "murmur/robust/similarity_downweighting.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "murmur/core/check.h"
#include "murmur/robust/kernels.h"
#include "robust/kernels_internal.h"

namespace murmur {
namespace {

// FoolsGold's reference code adds this to every largest cosine before
// pardoning, so an input whose largest cosine is 0 still has a ratio.
constexpr double kPardonEpsilon = 1e-5;

}  // namespace

std::vector<double> SimilarityScores(std::span<const double> gram, size_t n,
                                     const SimilarityScoreOptions& options) {
  MURMUR_CHECK(n >= 1 && gram.size() == n * n);
  if (n == 1) return {1.0};
  // cos[i*n+j]; the diagonal is never read. sqrt(G_ii G_jj) rather than the
  // product of norms makes identical inputs' cosine exactly 1, so exact
  // Sybil copies get weight exactly 0 however large.
  std::vector<double> cos(n * n, 0.0);
  std::vector<double> max_cos(n, -1.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double norms = std::sqrt(gram[i * n + i] * gram[j * n + j]);
      cos[i * n + j] = norms > 0 ? gram[i * n + j] / norms : 0.0;
      max_cos[i] = std::max(max_cos[i], cos[i * n + j]);
    }
  }
  if (options.pardoning) {
    // The reference subtracts the identity from the cosine matrix, so each
    // row's largest value is at least the diagonal's 0.
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::max(max_cos[i], 0.0) + kPardonEpsilon;
    for (size_t i = 0; i < n; ++i) {
      max_cos[i] = -1.0;
      for (size_t j = 0; j < n; ++j) {
        if (j == i) continue;
        double c = cos[i * n + j];
        if (v[i] < v[j]) c *= v[i] / v[j];
        max_cos[i] = std::max(max_cos[i], c);
      }
    }
  }
  std::vector<double> weight(n);
  double largest = 0;
  for (size_t i = 0; i < n; ++i) {
    weight[i] = std::clamp(1.0 - max_cos[i], 0.0, 1.0);
    largest = std::max(largest, weight[i]);
  }
  if (largest <= 0) return std::vector<double>(n, 1.0);
  for (double& w : weight) w /= largest;
  if (options.logit) {
    for (double& w : weight) {
      if (w >= 1.0) {
        w = 1.0;
      } else if (w > 0.0) {
        w = std::clamp(std::log(w / (1.0 - w)) + 0.5, 0.0, 1.0);
      }
    }
  }
  return weight;
}

Status SimilarityDownweighting::AggregateChecked(const CheckedInput& in,
                                                 std::span<float> out,
                                                 FinitenessScan* scan) const {
  const size_t n = in.vectors.size();
  if (scan != nullptr) scan->flags.assign(n, 0);
  const std::vector<double> gram = robust_internal::GramMatrixScan(
      in.vectors, pool(), scan ? scan->flags.data() : nullptr);
  if (scan != nullptr && scan->any()) return Status::Ok();
  const std::vector<double> weight = SimilarityScores(gram, n, options_);
  // The largest score is 1, so the total is at least 1.
  double total = 0;
  for (double w : weight) total += w;
  LinearCombination(in.vectors, weight, total, out, pool());
  return Status::Ok();
}

}  // namespace murmur
