// Coordinate-wise median (Yin, Chen, Kannan, Bartlett, 2018, "Byzantine-Robust
// Distributed Learning: Towards Optimal Statistical Rates"). Each output
// coordinate is the median of that coordinate over the inputs (the mean of
// the two middle values for even n). Tolerates any f < n/2 arbitrary inputs
// per coordinate: every output coordinate lies between two honest values.
// Precondition n > 2f (the kernel itself needs no f).
// Computed by a pruned sorting network vectorized across coordinates.
// Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class CoordinateMedian final : public Aggregator {
 public:
  explicit CoordinateMedian(int f = 0, ThreadPool* pool = nullptr)
      : Aggregator(f, pool) {}
  std::string name() const override { return "median"; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

}  // namespace murmur
