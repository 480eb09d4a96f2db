// Differential-privacy mechanisms over flat float updates: L2 clipping,
// Gaussian noise and adaptive clipping. Pure functions; randomness only from
// the caller's seeded Rng, so a simulated run is replayable. Thread-safe as
// long as each thread has its own Rng.
//
// Client-level DP for federated averaging (McMahan, Ramage, Talwar, Zhang,
// 2018, "Learning Differentially Private Recurrent Language Models"): each
// client's update is clipped to L2 norm C, the server sums the clipped
// updates and adds N(0, (z C)^2) per coordinate, where z is the noise
// multiplier that privacy/accountant.h turns into (epsilon, delta) with the
// client sampling rate as q. With distributed noise (e.g. under secure
// aggregation) each of m clients adds N(0, (z C)^2 / m) instead, which sums to
// the same noise if every client is honest. Sample-level DP-SGD (Abadi et al.
// 2016, "Deep Learning with Differential Privacy") applies the same two steps
// to per-example gradients.
#pragma once

#include <cstdint>
#include <span>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"

namespace murmur::privacy {

// Scales `update` in place so its L2 norm is at most `clip_norm` (untouched
// when already within). Returns the norm before clipping, computed in double.
// A non-finite coordinate makes the norm non-finite; the update is then
// zeroed, so a broken update can never carry more than the bound.
// REQUIRES: clip_norm > 0 and finite.
double ClipL2(double clip_norm, std::span<float> update);

// Adds independent N(0, stddev^2) noise to every coordinate, drawing
// rng.Normal() once per coordinate in order (so the noise is replayable).
// REQUIRES: stddev >= 0 and finite.
void AddGaussianNoise(double stddev, Rng& rng, std::span<float> values);

// Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, 2021,
// "Differentially Private Learning with Adaptive Clipping"): the clip norm
// tracks the `target_quantile` of the clients' update norms by a geometric
// update C <- C * exp(-learning_rate * (b - target_quantile)), where b is the
// fraction of clients whose update norm was at most C, released with
// Gaussian noise of stddev `count_noise_stddev` on the count (the paper
// recommends about expected clients / 20). The count query has sensitivity 1
// per client, so it costs privacy too: see AdaptiveClippingNoiseMultiplier.
struct AdaptiveClippingConfig {
  double target_quantile = 0.5;    // gamma in (0, 1)
  double learning_rate = 0.2;      // eta_C > 0
  double count_noise_stddev = 0;   // sigma_b >= 0
};

// kInvalidArgument naming the field for a value outside its range.
Status Validate(const AdaptiveClippingConfig& config);

// The next clip norm after a round in which `at_most_clip` of `clients`
// reported update norms <= `clip_norm`. Draws one rng.Normal() for the
// count's noise when count_noise_stddev > 0 (none otherwise).
// REQUIRES: Validate(config).ok(), clip_norm > 0, clients > 0,
// 0 <= at_most_clip <= clients.
double NextClipNorm(const AdaptiveClippingConfig& config, double clip_norm,
                    int64_t at_most_clip, int64_t clients, Rng& rng);

// Adaptive clipping with local (distributed) noise, as Andrew et al. 2021
// run it under secure aggregation: each client reports b_i - 1/2 plus
// N(0, bit_noise_stddev^2), b_i = 1[update_norm <= clip_norm] (centred, so
// one client moves the sum by at most 1/2: the sensitivity that
// AdaptiveClippingNoiseMultiplier's 2 sigma_b assumes). With m clients each
// adding sigma_b / sqrt(m), the sum carries the central mechanism's
// N(0, sigma_b^2). Draws one rng.Normal() when bit_noise_stddev > 0.
// REQUIRES: bit_noise_stddev >= 0.
double NoisyClipBit(double update_norm, double clip_norm, double bit_noise_stddev, Rng& rng);

// The next clip norm from the sum of `reports` noisy clip bits: b = sum /
// reports + 1/2, then NextClipNorm's geometric step; the result is clamped
// to [1e-12, 1e12] so that no sum of bits can make it 0 or infinite.
// REQUIRES: Validate(config).ok(), clip_norm > 0, reports > 0, finite sum.
double NextClipNormFromBits(const AdaptiveClippingConfig& config, double clip_norm,
                            double bit_sum, int64_t reports);

// The noise multiplier z_delta to use on the clipped updates so that updates
// and the noisy count together cost as much as updates alone at noise
// multiplier z (Andrew et al. 2021, Theorem 1): z_delta = (z^-2 - (2
// sigma_b)^-2)^(-1/2), with sigma_b the count noise in units of clients.
// kInvalidArgument when 2 sigma_b <= z (the count alone would spend the
// budget) or a value is not positive.
Result<double> AdaptiveClippingNoiseMultiplier(double z, double count_noise_stddev);

}  // namespace murmur::privacy
