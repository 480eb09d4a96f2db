// Differential privacy of whole runs: the [privacy] keys (docs/config.md,
// docs/privacy.md) and the step a protocol applies to a model before it
// leaves a peer, or before the server releases an aggregate.
//
//  * Federated protocols (FedAvg, FedProx): client-level DP of McMahan,
//    Ramage, Talwar, Zhang, 2018, "Learning Differentially Private Recurrent
//    Language Models" (DP-FedAvg with uniform client weights). Each client's
//    update (model - global) is clipped to L2 norm `clip`; Gaussian noise of
//    standard deviation noise_multiplier * clip on the sum of the round's
//    updates is added by the server (kCentral, the server sees raw updates)
//    or split over the m selected clients, each adding stddev
//    noise_multiplier * clip / sqrt(m) to its own update (kLocal, the
//    distributed noise of secure aggregation: the server sees noisy updates).
//  * Decentralized protocols (D-PSGD, gossip), kLocal only: before each send
//    a peer clips the change of its model since its previous release and
//    adds noise of stddev noise_multiplier * clip, so every message is a
//    Gaussian mechanism on the peer's data with sensitivity `clip` (the
//    peer-level guarantee of docs/privacy.md).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/privacy/mechanisms.h"

namespace murmur::privacy {

enum class DpMode {
  kNone,     // no clipping, no noise (the default; runs are unchanged)
  kCentral,  // the server clips each update and noises the aggregate
  kLocal,    // each sender clips and noises what it sends
};

// privacy.mode's spelling of `mode` ("none", "central", "local").
std::string_view DpModeName(DpMode mode);
// kInvalidArgument for a name not in the list above.
Result<DpMode> ParseDpMode(std::string_view name);

// The [privacy] table.
struct DpConfig {
  DpMode mode = DpMode::kNone;
  double clip = 1.0;              // privacy.clip: C, an L2 norm > 0
  double noise_multiplier = 0;    // privacy.noise_multiplier: z >= 0
  double delta = 1e-5;            // privacy.delta: the delta epsilon is reported at
  // kCentral only: the server adapts the clip norm to the target quantile
  // of the update norms (Andrew et al. 2021, mechanisms.h), starting from
  // `clip`, and noises the updates at the z_delta of
  // AdaptiveClippingNoiseMultiplier so that both together cost z.
  bool adaptive_clip = false;        // privacy.adaptive_clip
  AdaptiveClippingConfig adaptive;   // privacy.target_quantile, clip_lr, count_noise_stddev
  bool enabled() const { return mode != DpMode::kNone; }
};

// Clips `model - reference` to L2 norm `clip` and adds N(0, noise_stddev^2)
// to every coordinate of `model`, in place. `model` is rewritten only when
// the change exceeds the bound (then to reference + clipped change), and
// noise is drawn (one rng.Normal() per coordinate) only when noise_stddev >
// 0, so clip = large, noise 0 leaves model and rng untouched. A non-finite
// change resets model to reference. Returns the norm of the change before
// clipping. REQUIRES: equal sizes, clip > 0, noise_stddev >= 0.
double ClipChangeAndNoise(std::span<const float> reference, std::span<float> model,
                          double clip, double noise_stddev, Rng& rng);

// Epsilon of `steps` steps of the subsampled Gaussian mechanism with
// sampling rate q and noise multiplier config.noise_multiplier, at
// config.delta (privacy/accountant.h, Balle et al. 2020 conversion).
// nullopt when the bound is infinite (noise_multiplier 0).
// REQUIRES: config.enabled(), 0 < q <= 1, steps >= 0.
std::optional<double> RunEpsilon(const DpConfig& config, double q, int64_t steps);

}  // namespace murmur::privacy
