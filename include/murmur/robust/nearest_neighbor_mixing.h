// Nearest-neighbour mixing, NNM (Allouah, Farhadkhani, Guerraoui, Gupta,
// Pinot, Stephan, 2023, "Fixing by Mixing: A Recipe for Optimal Byzantine ML
// under Heterogeneity"): replaces every input by the mean of its n - f
// nearest inputs (itself included, at distance 0; ties to the lower index).
// In front of a rule it reduces the honest inputs' spread so the rule
// reaches the optimal error under heterogeneity. Precondition n > 2f.
// Distances come from one Gram matrix. Stateless; thread-safety as for
// Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class NearestNeighborMixing final : public PreAggregator {
 public:
  explicit NearestNeighborMixing(int f, ThreadPool* pool = nullptr)
      : PreAggregator(f, pool) {}
  std::string name() const override { return "nnm"; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status ApplyChecked(const CheckedInput& in,
                      std::vector<std::vector<float>>& out) const override;
};

}  // namespace murmur
