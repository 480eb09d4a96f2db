#include "murmur/robust/flag_aggregator.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "murmur/robust/kernels.h"
#include "robust/eigen.h"
#include "robust/kernels_internal.h"

namespace murmur {
namespace {

// A subspace Y = U C (U = [u_1 .. u_n], C n x r), with the objective and
// per-input squared sines it gives.
struct Subspace {
  std::vector<double> c;  // row-major n x r
  size_t r = 0;
  std::vector<double> sin_sq;
  double objective = 0;
};

// Y = top-r left singular vectors of U diag(a): with diag(a) K diag(a) =
// V L V^T, Y = U diag(a) V_r L_r^(-1/2).
Subspace FitSubspace(const std::vector<double>& k, size_t n, const std::vector<double>& a,
                     const std::vector<uint8_t>& zero, size_t m) {
  std::vector<double> weighted(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) weighted[i * n + j] = a[i] * k[i * n + j] * a[j];
  }
  std::vector<double> values, vectors;
  robust_internal::SymmetricEigen(weighted, n, values, vectors);
  Subspace s;
  const double floor = 1e-12 * std::max(values.empty() ? 0.0 : values[0], 0.0);
  while (s.r < std::min(m, n) && values[s.r] > floor && values[s.r] > 0) ++s.r;
  s.c.assign(n * s.r, 0.0);
  for (size_t col = 0; col < s.r; ++col) {
    const double inv = 1.0 / std::sqrt(values[col]);
    for (size_t i = 0; i < n; ++i) s.c[i * s.r + col] = a[i] * vectors[i * n + col] * inv;
  }
  // ||Y^T u_j||^2 = ||C^T K e_j||^2.
  s.sin_sq.assign(n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    if (zero[j]) continue;
    double proj = 0;
    for (size_t col = 0; col < s.r; ++col) {
      double t = 0;
      for (size_t i = 0; i < n; ++i) t += s.c[i * s.r + col] * k[i * n + j];
      proj += t * t;
    }
    s.sin_sq[j] = std::max(0.0, 1.0 - proj);
    s.objective += std::sqrt(s.sin_sq[j]);
  }
  return s;
}

}  // namespace

FlagAggregator::FlagAggregator(int f, FlagAggregatorOptions options, ThreadPool* pool)
    : Aggregator(f, pool), options_(options) {
  MURMUR_CHECK(options.subspace_dim >= 1 && options.max_iterations >= 0 &&
               options.eps > 0);
}

Status FlagAggregator::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                        FinitenessScan* scan) const {
  const size_t n = in.vectors.size();
  if (scan != nullptr) scan->flags.assign(n, 0);
  const std::vector<double> gram = robust_internal::GramMatrixScan(
      in.vectors, pool(), scan ? scan->flags.data() : nullptr);
  if (scan != nullptr && scan->any()) return Status::Ok();

  std::vector<double> norm(n);
  std::vector<uint8_t> zero(n, 0);
  for (size_t i = 0; i < n; ++i) {
    norm[i] = std::sqrt(std::max(0.0, gram[i * n + i]));
    zero[i] = norm[i] == 0 ? 1 : 0;
  }
  std::vector<double> k(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (!zero[i] && !zero[j]) k[i * n + j] = gram[i * n + j] / (norm[i] * norm[j]);
    }
  }
  const size_t m = static_cast<size_t>(options_.subspace_dim);
  std::vector<double> a(n);
  for (size_t i = 0; i < n; ++i) a[i] = zero[i] ? 0.0 : 1.0;
  Subspace best = FitSubspace(k, n, a, zero, m);
  for (int it = 0; it < options_.max_iterations && best.r > 0; ++it) {
    for (size_t i = 0; i < n; ++i) {
      a[i] = zero[i] ? 0.0 : std::pow(best.sin_sq[i] + options_.eps, -0.25);
    }
    Subspace next = FitSubspace(k, n, a, zero, m);
    if (next.r == 0 || next.objective > best.objective) break;
    const bool converged = best.objective - next.objective <= 1e-10;
    best = std::move(next);
    if (converged) break;
  }

  std::vector<double> coef(n, 0.0);
  if (best.r > 0) {
    // out = (1/r) U C C^T K 1, as coefficients on the raw inputs x_i = ||x_i|| u_i.
    std::vector<double> k1(n, 0.0), ct(best.r, 0.0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) k1[i] += k[i * n + j];
    }
    for (size_t col = 0; col < best.r; ++col) {
      for (size_t i = 0; i < n; ++i) ct[col] += best.c[i * best.r + col] * k1[i];
    }
    for (size_t i = 0; i < n; ++i) {
      if (zero[i]) continue;
      double g = 0;
      for (size_t col = 0; col < best.r; ++col) g += best.c[i * best.r + col] * ct[col];
      coef[i] = g / static_cast<double>(best.r) / norm[i];
    }
    if (options_.rescale_to_median_norm) {
      double sq = 0;
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) sq += coef[i] * gram[i * n + j] * coef[j];
      }
      std::vector<double> sorted = norm;
      std::sort(sorted.begin(), sorted.end());
      const double median = 0.5 * (sorted[(n - 1) / 2] + sorted[n / 2]);
      const double out_norm = std::sqrt(std::max(0.0, sq));
      if (out_norm > 0) {
        for (double& c : coef) c *= median / out_norm;
      }
    }
  }
  LinearCombination(in.vectors, coef, 1.0, out, pool());
  return Status::Ok();
}

}  // namespace murmur
