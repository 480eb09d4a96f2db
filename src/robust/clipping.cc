#include "murmur/robust/clipping.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "murmur/robust/kernels.h"
#include "robust/vectorize.h"

namespace murmur {
namespace {

MURMUR_VECTOR_CLONES
void ScaledCopy(const float* x, double scale, float* out, size_t len) {
  for (size_t k = 0; k < len; ++k) {
    out[k] = static_cast<float>(static_cast<double>(x[k]) * scale);
  }
}

// Copies every input, scaled by min(1, radius_i / ||x_i||).
void ClipAll(const CheckedInput& in, const std::vector<double>& norms,
             const std::vector<double>& radius, std::vector<std::vector<float>>& out) {
  const size_t n = in.vectors.size();
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].resize(in.dim);
    const double scale = norms[i] > radius[i] ? radius[i] / norms[i] : 1.0;
    ScaledCopy(in.vectors[i].data(), scale, out[i].data(), in.dim);
  }
}

}  // namespace

StaticClipping::StaticClipping(double tau, ThreadPool* pool)
    : PreAggregator(0, pool), tau_(tau) {
  MURMUR_CHECK(tau > 0);
}

Status StaticClipping::ApplyChecked(const CheckedInput& in,
                                    std::vector<std::vector<float>>& out) const {
  std::vector<double> norms = SquaredNorms(in.vectors, pool());
  for (double& v : norms) v = std::sqrt(v);
  ClipAll(in, norms, std::vector<double>(in.vectors.size(), tau_), out);
  return Status::Ok();
}

Status AdaptiveRobustClipping::ApplyChecked(const CheckedInput& in,
                                            std::vector<std::vector<float>>& out) const {
  const size_t n = in.vectors.size();
  const size_t f = static_cast<size_t>(in.f);
  std::vector<double> norms = SquaredNorms(in.vectors, pool());
  for (double& v : norms) v = std::sqrt(v);
  const size_t clipped = std::min(n - 1, (2 * f * (n - f)) / n);
  std::vector<double> sorted = norms;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  // Clipping every input to the (k+1)-th largest norm changes exactly the k
  // largest (and ties with the threshold, which it leaves as they are).
  const double radius = clipped == 0 ? HUGE_VAL : sorted[clipped];
  ClipAll(in, norms, std::vector<double>(n, radius), out);
  return Status::Ok();
}

}  // namespace murmur
