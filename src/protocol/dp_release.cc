#include "murmur/protocol/dp_release.h"

namespace murmur {

DpRelease::DpRelease(const privacy::DpConfig& config, std::span<const float> initial)
    : config_(config), last_(initial.begin(), initial.end()) {}

std::span<const float> DpRelease::Release(std::span<const float> model, Host& host) {
  MURMUR_CHECK(model.size() == last_.size());
  std::vector<float> next(model.begin(), model.end());
  const double norm = privacy::ClipChangeAndNoise(
      last_, next, config_.clip, config_.noise_multiplier * config_.clip, host.privacy_rng());
  if (norm > config_.clip) host.metrics().Count("privacy.clipped_updates", 1);
  last_ = std::move(next);
  return last_;
}

}  // namespace murmur
