#include "murmur/robust/attacks.h"

#include <cmath>
#include <vector>

#include "murmur/core/check.h"

namespace murmur {
namespace {

Status CheckSizes(const char* attack, VectorList vectors, size_t dim) {
  if (vectors.empty()) {
    return Status::InvalidArgument(attack, ": needs at least one honest vector");
  }
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (vectors[i].size() != dim) {
      return Status::InvalidArgument(attack, ": vector ", i, " has ", vectors[i].size(),
                                     " elements, expected ", dim);
    }
  }
  return Status::Ok();
}

// Standard normal quantile by bisection on the CDF: accurate to ~1e-12,
// and only called once per run.
double NormalQuantile(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    const double cdf = 0.5 * std::erfc(-mid / std::sqrt(2.0));
    (cdf < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

void SignFlip(std::span<const float> own, double scale, std::span<float> out) {
  MURMUR_CHECK(own.size() == out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<float>(-scale * static_cast<double>(own[i]));
  }
}

void GaussianNoise(double sigma, Rng& rng, std::span<float> out) {
  for (float& v : out) v = static_cast<float>(sigma * rng.Normal());
}

double AlieZ(int n, int f) {
  const int s = n / 2 + 1 - f;
  if (n <= 0 || s <= 0) return 0;
  const double p = static_cast<double>(n - s) / n;
  if (!(p > 0 && p < 1)) return 0;
  return NormalQuantile(p);
}

Status MeanOf(VectorList vectors, std::span<float> out) {
  MURMUR_RETURN_IF_ERROR(CheckSizes("mean", vectors, out.size()));
  const double k = static_cast<double>(vectors.size());
  for (size_t i = 0; i < out.size(); ++i) {
    double sum = 0;
    for (const auto& v : vectors) sum += v[i];
    out[i] = static_cast<float>(sum / k);
  }
  return Status::Ok();
}

Status ALittleIsEnough(VectorList honest, double z, std::span<float> out) {
  MURMUR_RETURN_IF_ERROR(CheckSizes("alie", honest, out.size()));
  const size_t k = honest.size();
  for (size_t i = 0; i < out.size(); ++i) {
    double sum = 0;
    for (const auto& v : honest) sum += v[i];
    const double mu = sum / static_cast<double>(k);
    double sq = 0;
    for (const auto& v : honest) sq += (v[i] - mu) * (v[i] - mu);
    const double sigma = k > 1 ? std::sqrt(sq / static_cast<double>(k - 1)) : 0.0;
    out[i] = static_cast<float>(mu - z * sigma);
  }
  return Status::Ok();
}

Status InnerProductManipulation(VectorList honest, double epsilon, std::span<float> out) {
  MURMUR_RETURN_IF_ERROR(CheckSizes("ipm", honest, out.size()));
  MURMUR_RETURN_IF_ERROR(MeanOf(honest, out));
  for (float& v : out) v = static_cast<float>(-epsilon * static_cast<double>(v));
  return Status::Ok();
}

void Dissensus(std::span<const float> receiver, std::span<const float> honest_mean,
               double scale, std::span<float> out) {
  MURMUR_CHECK(receiver.size() == out.size() && honest_mean.size() == out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const double r = receiver[i];
    out[i] = static_cast<float>(r + scale * (r - static_cast<double>(honest_mean[i])));
  }
}

}  // namespace murmur
