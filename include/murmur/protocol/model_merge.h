// How a peer merges the models it holds into one. Plain averaging, or
// variance-corrected averaging (Tian, Al-Ars, Kitsak, Hofstee, 2024,
// "Vanishing Variance Problem in Fully Decentralized Neural-Network
// Systems", arXiv:2404.04616): averaging k uncorrelated models divides each layer's weight
// variance by up to k, which slows training from a well-scaled (Xavier /
// Kaiming) initialisation; VCA rescales each tensor's deviation from its
// mean so that its variance equals the mean variance of the inputs'
// tensors. Pure functions; thread-safe.
#pragma once

#include <span>
#include <vector>

#include "murmur/learn/model.h"

namespace murmur {

enum class MergeRule { kAverage, kVarianceCorrected };

// out = mean of `models`; with kVarianceCorrected, each tensor t of `out`
// is then rescaled as mean(out_t) + (out_t - mean(out_t)) * sqrt(v / var(out_t)),
// v the mean over models of var(model_t). A tensor whose averaged variance
// is zero is left as the plain average. `out` may alias models[0].
// REQUIRES: models non-empty, every model and out of the same size, and
// `tensors` tiling [0, out.size()) (ignored for kAverage).
void MergeModels(MergeRule rule, std::span<const std::span<const float>> models,
                 std::span<const ParamTensor> tensors, std::span<float> out);

}  // namespace murmur
