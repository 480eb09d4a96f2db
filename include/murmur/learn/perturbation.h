// Shared-randomness perturbations for zeroth-order training: a direction z
// in parameter space that any peer regenerates bit for bit from a few
// integers, and the two-point SPSA estimate of the directional derivative
// along it (Spall, 1992, "Multivariate stochastic approximation using a
// simultaneous perturbation gradient approximation"; used for fine-tuning by
// Malladi et al., 2023, "Fine-Tuning Language Models with Just Forward
// Passes", MeZO). z is generated block by block from a Philox stream
// (core/rng.h) while it is applied, so no buffer of size num_params is ever
// allocated for it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "murmur/core/ids.h"
#include "murmur/core/rng.h"

namespace murmur {

// The distribution of every coordinate of z.
enum class NoiseKind {
  // +-1 with probability 1/2 each: one random bit per coordinate, exact
  // arithmetic (w +- c), bit-identical on every machine.
  kRademacher,
  // N(0, 1) by Box-Muller in double precision, rounded to float. Identical
  // across peers that share the C math library (std::log, std::sin,
  // std::cos); see docs/protocols/spsa.md.
  kGaussian,
};

// Names one direction: z is the stream Rng::ForStep(seed, PeerId(stream),
// purpose, step). SPSA keys it by (run seed, peer, step); FedKSeed by (run
// seed, pool index, 0).
struct PerturbationKey {
  uint64_t seed = 0;
  uint32_t stream = 0;
  uint64_t step = 0;  // REQUIRES: < 2^24 (Rng::ForStep)
  RngPurpose purpose = RngPurpose::kSpsaPerturbation;
  NoiseKind noise = NoiseKind::kRademacher;
};

// params[i] += scale * z[i] for every i, in index order. Deterministic: the
// same key, scale and params give the same bits on every call.
void AddScaledPerturbation(std::span<float> params, float scale,
                           const PerturbationKey& key);

// out[i] = base[i] + scale * z[i]; the same z and rounding as
// AddScaledPerturbation. REQUIRES: out.size() == base.size().
void WritePerturbed(std::span<const float> base, float scale,
                    const PerturbationKey& key, std::span<float> out);

struct SpsaEstimate {
  // (L(w + eps z) - L(w - eps z)) / (2 eps): an estimate of z . grad L(w),
  // exact for quadratic L up to rounding.
  double projected_grad = 0;
  // (L(w + eps z) + L(w - eps z)) / 2, the loss to report for the step.
  double loss = 0;
};

// Evaluates `loss` at w + eps z and w - eps z, both written into `scratch`;
// `w` itself is never modified, so the caller's model is bit-for-bit what it
// was. REQUIRES: scratch.size() == w.size(), eps > 0.
SpsaEstimate EstimateProjectedGradient(
    const std::function<double(std::span<const float>)>& loss,
    std::span<const float> w, float eps, const PerturbationKey& key,
    std::span<float> scratch);

}  // namespace murmur
