#include "murmur/protocol/neighbour_mix.h"

#include <algorithm>

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
  // One pass over x in blocks that stay in L1, instead of one pass per
  // model: x is read and written once rather than 1 + models.size() times.
  // Each element still sees x * ws, then + w_k * m_k in neighbour order, in
  // float (no contraction: the build does not enable FMA), so the result is
  // that of the model-by-model loops bit for bit.
  constexpr size_t kBlock = 512;
  const auto ws = static_cast<float>(mix.self_weight);
  for (size_t lo = 0; lo < x.size(); lo += kBlock) {
    const size_t n = std::min(kBlock, x.size() - lo);
    float* xb = x.data() + lo;
    for (size_t i = 0; i < n; ++i) xb[i] *= ws;
    for (size_t k = 0; k < mix.models.size(); ++k) {
      const auto wk = static_cast<float>(mix.weights[k]);
      const float* m = mix.models[k].data() + lo;
      for (size_t i = 0; i < n; ++i) xb[i] += wk * m[i];
    }
  }
}

}  // namespace murmur
