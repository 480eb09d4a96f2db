#include "murmur/privacy/client_dp.h"

#include <cmath>
#include <vector>

#include "murmur/privacy/accountant.h"
#include "murmur/privacy/mechanisms.h"

namespace murmur::privacy {

std::string_view DpModeName(DpMode mode) {
  switch (mode) {
    case DpMode::kNone: return "none";
    case DpMode::kCentral: return "central";
    case DpMode::kLocal: return "local";
  }
  return "none";
}

Result<DpMode> ParseDpMode(std::string_view name) {
  for (DpMode mode : {DpMode::kNone, DpMode::kCentral, DpMode::kLocal}) {
    if (DpModeName(mode) == name) return mode;
  }
  return Status::InvalidArgument("privacy.mode = \"", name,
                                 "\": use \"none\", \"central\" or \"local\"");
}

double ClipChangeAndNoise(std::span<const float> reference, std::span<float> model,
                          double clip, double noise_stddev, Rng& rng) {
  MURMUR_CHECK(reference.size() == model.size());
  std::vector<float> change(model.size());
  for (size_t i = 0; i < model.size(); ++i) change[i] = model[i] - reference[i];
  const double norm = ClipL2(clip, change);
  // Rewrite only a clipped change: reference + (model - reference) need not
  // round back to model, and an unclipped run must stay bit-identical.
  if (!(norm <= clip)) {
    for (size_t i = 0; i < model.size(); ++i) model[i] = reference[i] + change[i];
  }
  if (noise_stddev > 0) AddGaussianNoise(noise_stddev, rng, model);
  return norm;
}

std::optional<double> RunEpsilon(const DpConfig& config, double q, int64_t steps) {
  MURMUR_CHECK(config.enabled() && q > 0 && q <= 1 && steps >= 0);
  if (steps == 0) return 0.0;
  PrivacyAccountant accountant;
  if (!accountant.ComposeSubsampledGaussian(q, config.noise_multiplier, steps).ok()) {
    return std::nullopt;
  }
  Result<EpsilonAndOrder> eps = accountant.Epsilon(config.delta);
  if (!eps.ok() || !std::isfinite(eps->epsilon)) return std::nullopt;
  return eps->epsilon;
}

}  // namespace murmur::privacy
