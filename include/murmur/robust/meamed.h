// MeaMed, mean around the median (Xie, Koyejo, Gupta, 2018, "Generalized
// Byzantine-tolerant SGD"). For every coordinate, the mean of the n - f
// values nearest to that coordinate's median (ties between equally near
// candidate sets go to the set of smaller values). Tolerates up to f
// arbitrary inputs with n > 2f: every output coordinate lies between honest
// values. Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class MeaMed final : public Aggregator {
 public:
  explicit MeaMed(int f, ThreadPool* pool = nullptr) : Aggregator(f, pool) {}
  std::string name() const override { return "meamed"; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

}  // namespace murmur
