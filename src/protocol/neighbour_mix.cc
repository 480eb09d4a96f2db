#include "murmur/protocol/neighbour_mix.h"

#include "murmur/core/check.h"

namespace murmur {

NeighbourMix CollectArrived(const ArrivedModels& received,
                            std::span<const PeerId> neighbours,
                            std::span<const double> neighbour_weights, double self_weight) {
  MURMUR_CHECK(neighbours.size() == neighbour_weights.size());
  NeighbourMix mix;
  mix.self_weight = self_weight;
  for (size_t k = 0; k < neighbour_weights.size(); ++k) {
    auto found = received.find(neighbours[k]);
    if (found != received.end()) {
      mix.weights.push_back(neighbour_weights[k]);
      mix.models.push_back(found->second.view());
    } else {
      mix.self_weight += neighbour_weights[k];
    }
  }
  return mix;
}

void ApplyMix(std::span<float> x, const NeighbourMix& mix) {
  const auto ws = static_cast<float>(mix.self_weight);
  for (float& v : x) v *= ws;
  for (size_t k = 0; k < mix.models.size(); ++k) {
    const auto w = static_cast<float>(mix.weights[k]);
    const float* m = mix.models[k].data();
    for (size_t i = 0; i < x.size(); ++i) x[i] += w * m[i];
  }
}

}  // namespace murmur
