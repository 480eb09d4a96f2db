#include "murmur/robust/geometric_median.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "murmur/robust/kernels.h"
#include "robust/kernels_internal.h"

namespace murmur {

GeometricMedian::GeometricMedian(int f, GeometricMedianOptions options, ThreadPool* pool)
    : Aggregator(f, pool), options_(options) {
  MURMUR_CHECK(options.nu > 0 && options.max_iterations >= 1 && options.tolerance >= 0);
}

Status GeometricMedian::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                         FinitenessScan* scan) const {
  const size_t n = in.vectors.size();
  if (scan != nullptr) scan->flags.assign(n, 0);
  const std::vector<double> gram = robust_internal::GramMatrixScan(
      in.vectors, pool(), scan ? scan->flags.data() : nullptr);
  if (scan != nullptr && scan->any()) return Status::Ok();

  std::vector<double> alpha(n, 1.0);
  if (!in.weights.empty()) alpha.assign(in.weights.begin(), in.weights.end());
  double alpha_sum = 0;
  for (double a : alpha) alpha_sum += a;

  // z = sum_i c_i x_i with c on the simplex; ||z - x_j||^2 =
  // c'Gc - 2 (Gc)_j + G_jj.
  std::vector<double> c(n), next(n), gc(n), beta(n);
  for (size_t i = 0; i < n; ++i) c[i] = alpha[i] / alpha_sum;
  for (int it = 0; it < options_.max_iterations; ++it) {
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t i = 0; i < n; ++i) s += gram[j * n + i] * c[i];
      gc[j] = s;
    }
    double cgc = 0;
    for (size_t j = 0; j < n; ++j) cgc += c[j] * gc[j];
    double beta_sum = 0;
    for (size_t j = 0; j < n; ++j) {
      const double dist = std::sqrt(std::max(0.0, cgc - 2.0 * gc[j] + gram[j * n + j]));
      beta[j] = alpha[j] / std::max(options_.nu, dist);
      beta_sum += beta[j];
    }
    // Convergence is judged on the coefficients, relative to each one: the
    // objective is useless for this when far outliers dominate it (a step
    // that still moves z by 1e19 changes an objective of 1e31 by 1e-12).
    double change = 0;
    for (size_t j = 0; j < n; ++j) {
      next[j] = beta[j] / beta_sum;
      if (next[j] > 0) change = std::max(change, std::fabs(next[j] - c[j]) / next[j]);
    }
    c.swap(next);
    if (change <= options_.tolerance) break;
  }
  LinearCombination(in.vectors, c, 1.0, out, pool());
  return Status::Ok();
}

}  // namespace murmur
