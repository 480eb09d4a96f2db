#include "murmur/privacy/mechanisms.h"

#include <algorithm>
#include <cmath>

namespace murmur::privacy {

double ClipL2(double clip_norm, std::span<float> update) {
  MURMUR_CHECK(clip_norm > 0 && std::isfinite(clip_norm));
  double sum_sq = 0;
  for (float v : update) sum_sq += static_cast<double>(v) * v;
  const double norm = std::sqrt(sum_sq);
  if (!std::isfinite(norm)) {
    std::fill(update.begin(), update.end(), 0.0f);
  } else if (norm > clip_norm) {
    const double scale = clip_norm / norm;
    for (float& v : update) v = static_cast<float>(v * scale);
  }
  return norm;
}

void AddGaussianNoise(double stddev, Rng& rng, std::span<float> values) {
  MURMUR_CHECK(stddev >= 0 && std::isfinite(stddev));
  for (float& v : values) v = static_cast<float>(v + stddev * rng.Normal());
}

Status Validate(const AdaptiveClippingConfig& config) {
  if (!(config.target_quantile > 0 && config.target_quantile < 1)) {
    return Status::InvalidArgument("adaptive clipping: target_quantile=",
                                   config.target_quantile, " must lie in (0, 1)");
  }
  if (!(config.learning_rate > 0) || !std::isfinite(config.learning_rate)) {
    return Status::InvalidArgument("adaptive clipping: learning_rate=",
                                   config.learning_rate, " must be finite and > 0");
  }
  if (!(config.count_noise_stddev >= 0) || !std::isfinite(config.count_noise_stddev)) {
    return Status::InvalidArgument("adaptive clipping: count_noise_stddev=",
                                   config.count_noise_stddev, " must be finite and >= 0");
  }
  return Status::Ok();
}

double NextClipNorm(const AdaptiveClippingConfig& config, double clip_norm,
                    int64_t at_most_clip, int64_t clients, Rng& rng) {
  MURMUR_CHECK(Validate(config).ok());
  MURMUR_CHECK(clip_norm > 0 && clients > 0);
  MURMUR_CHECK(at_most_clip >= 0 && at_most_clip <= clients);
  double count = static_cast<double>(at_most_clip);
  if (config.count_noise_stddev > 0) count += config.count_noise_stddev * rng.Normal();
  const double fraction = count / static_cast<double>(clients);
  // The geometric update: multiplicative steps keep C positive and adapt as
  // fast to norms of 1e-3 as of 1e3.
  return clip_norm * std::exp(-config.learning_rate * (fraction - config.target_quantile));
}

double NoisyClipBit(double update_norm, double clip_norm, double bit_noise_stddev, Rng& rng) {
  MURMUR_CHECK(bit_noise_stddev >= 0);
  double bit = update_norm <= clip_norm ? 0.5 : -0.5;
  if (bit_noise_stddev > 0) bit += bit_noise_stddev * rng.Normal();
  return bit;
}

double NextClipNormFromBits(const AdaptiveClippingConfig& config, double clip_norm,
                            double bit_sum, int64_t reports) {
  MURMUR_CHECK(Validate(config).ok());
  MURMUR_CHECK(clip_norm > 0 && reports > 0 && std::isfinite(bit_sum));
  const double fraction = bit_sum / static_cast<double>(reports) + 0.5;
  const double next =
      clip_norm * std::exp(-config.learning_rate * (fraction - config.target_quantile));
  return std::clamp(next, 1e-12, 1e12);
}

Result<double> AdaptiveClippingNoiseMultiplier(double z, double count_noise_stddev) {
  if (!(z > 0) || !std::isfinite(z)) {
    return Status::InvalidArgument("noise multiplier z=", z, " must be finite and > 0");
  }
  if (!(2 * count_noise_stddev > z)) {
    return Status::InvalidArgument("count noise stddev ", count_noise_stddev,
                                   " must exceed z/2=", z / 2,
                                   ": the noisy count alone would spend the budget");
  }
  const double inv = 1 / (z * z) - 1 / (4 * count_noise_stddev * count_noise_stddev);
  return 1 / std::sqrt(inv);
}

}  // namespace murmur::privacy
