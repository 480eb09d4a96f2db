// Coordinate-wise trimmed mean (Yin, Chen, Kannan, Bartlett, 2018,
// "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
// Rates"). Drops the f largest and f smallest values of every coordinate and
// averages the remaining n - 2f. Tolerates up to f arbitrary inputs: every
// output coordinate lies between the smallest and largest honest values.
// Precondition n > 2f. Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class TrimmedMean final : public Aggregator {
 public:
  explicit TrimmedMean(int f, ThreadPool* pool = nullptr) : Aggregator(f, pool) {}
  std::string name() const override { return "trimmed-mean"; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

}  // namespace murmur
