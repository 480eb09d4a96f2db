// Metropolis-Hastings mixing over the neighbours whose model arrived, shared
// by D-PSGD (dpsgd.h) and DFedSAM (dfedsam.h): a neighbour whose model is
// missing leaves its weight with the peer itself, so rows stay stochastic
// and a late or offline neighbour never blocks a round.
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/protocol/round_barrier.h"

namespace murmur {

struct NeighbourMix {
  double self_weight = 0;                      // own weight plus missing shares
  std::vector<double> weights;                 // of the arrived models
  std::vector<std::span<const float>> models;  // arrived, in neighbour order
};

// `received` maps a neighbour to its model (a RoundBarrier's Close());
// `neighbours` and `neighbour_weights` are aligned.
NeighbourMix CollectArrived(const ArrivedModels& received,
                            std::span<const PeerId> neighbours,
                            std::span<const double> neighbour_weights, double self_weight);

// x <- self_weight * x + sum_k weights[k] * models[k], in float.
void ApplyMix(std::span<float> x, const NeighbourMix& mix);

}  // namespace murmur
