// Nearest-neighbour averaging, the aggregation step of MoNNA (Farhadkhani,
// Guerraoui, Gupta, Hoang, Pinot, Stephan, 2023, "Robust Collaborative
// Learning with Linear Gradient Overhead"): the mean of the n - f inputs
// nearest (in Euclidean distance) to the aggregating peer's own vector,
// given as AggregationInput::reference (required). MoNNA's local momentum
// belongs to the learner, not here. Pass the own vector among the inputs as
// well to count it (it is then always selected, at distance 0). Ties in
// distance go to the lower input index. Tolerates up to f arbitrary inputs
// with n > 2f: the selected inputs are each no farther from the own vector
// than some honest input. Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class NearestNeighborAveraging final : public Aggregator {
 public:
  explicit NearestNeighborAveraging(int f, ThreadPool* pool = nullptr)
      : Aggregator(f, pool) {}
  std::string name() const override { return "monna"; }
  bool needs_reference() const override { return true; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

}  // namespace murmur
