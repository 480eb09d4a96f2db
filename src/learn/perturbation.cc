#include "murmur/learn/perturbation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "murmur/core/check.h"

namespace murmur {
namespace {

// Coordinates generated per block: z lives only in this stack array, so
// applying a direction to a model of any size allocates nothing.
constexpr size_t kBlock = 256;
using Block = std::array<float, kBlock>;

// Fills a whole block whatever the caller needs of it, so that coordinate i
// gets the same value for every parameter count (a prefix of a longer model
// sees the same z).
void FillBlock(Rng& rng, NoiseKind noise, Block& z) {
  if (noise == NoiseKind::kRademacher) {
    for (size_t w = 0; w < kBlock / 32; ++w) {
      const uint32_t bits = rng.NextU32();
      for (size_t b = 0; b < 32; ++b) {
        z[w * 32 + b] = ((bits >> b) & 1u) != 0 ? 1.0f : -1.0f;
      }
    }
    return;
  }
  // Box-Muller on 32-bit uniforms in (0, 1): both outputs of every pair.
  constexpr double kScale = 0x1.0p-32;
  for (size_t i = 0; i < kBlock; i += 2) {
    const double u1 = (static_cast<double>(rng.NextU32()) + 0.5) * kScale;
    const double u2 = (static_cast<double>(rng.NextU32()) + 0.5) * kScale;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * std::numbers::pi * u2;
    z[i] = static_cast<float>(r * std::cos(theta));
    z[i + 1] = static_cast<float>(r * std::sin(theta));
  }
}

// Calls fn(start, z, len) for consecutive blocks covering [0, n).
template <typename Fn>
void ForEachBlock(size_t n, const PerturbationKey& key, Fn&& fn) {
  Rng rng = Rng::ForStep(key.seed, PeerId(key.stream), key.purpose, key.step);
  Block z;
  for (size_t start = 0; start < n; start += kBlock) {
    FillBlock(rng, key.noise, z);
    fn(start, z.data(), std::min(kBlock, n - start));
  }
}

}  // namespace

void AddScaledPerturbation(std::span<float> params, float scale,
                           const PerturbationKey& key) {
  float* p = params.data();
  ForEachBlock(params.size(), key, [&](size_t start, const float* z, size_t len) {
    for (size_t i = 0; i < len; ++i) p[start + i] = p[start + i] + scale * z[i];
  });
}

void WritePerturbed(std::span<const float> base, float scale,
                    const PerturbationKey& key, std::span<float> out) {
  MURMUR_CHECK(out.size() == base.size());
  const float* b = base.data();
  float* o = out.data();
  ForEachBlock(base.size(), key, [&](size_t start, const float* z, size_t len) {
    for (size_t i = 0; i < len; ++i) o[start + i] = b[start + i] + scale * z[i];
  });
}

SpsaEstimate EstimateProjectedGradient(
    const std::function<double(std::span<const float>)>& loss,
    std::span<const float> w, float eps, const PerturbationKey& key,
    std::span<float> scratch) {
  MURMUR_CHECK(scratch.size() == w.size());
  MURMUR_CHECK(eps > 0);
  WritePerturbed(w, eps, key, scratch);
  const double plus = loss(scratch);
  WritePerturbed(w, -eps, key, scratch);
  const double minus = loss(scratch);
  return SpsaEstimate{.projected_grad = (plus - minus) / (2.0 * static_cast<double>(eps)),
                      .loss = 0.5 * (plus + minus)};
}

}  // namespace murmur
