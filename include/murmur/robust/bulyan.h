// Bulyan (El Mhamdi, Guerraoui, Rouault, 2018, "The Hidden Vulnerability of
// Distributed Learning in Byzantium"). Selects theta = n - 2f inputs by
// applying Krum repeatedly (each time to the inputs not yet selected, with
// n_r - f - 2 neighbours, at least 0, where n_r is the number left), then
// for every coordinate averages the beta = theta - 2f selected values
// nearest to that coordinate's median. Tolerates up to f arbitrary inputs
// with n >= 4f + 3, and bounds every coordinate's deviation (against
// attacks that hide in high dimension and fool Krum alone). Stateless;
// thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class Bulyan final : public Aggregator {
 public:
  explicit Bulyan(int f, ThreadPool* pool = nullptr) : Aggregator(f, pool) {}
  std::string name() const override { return "bulyan"; }
  // Needs n >= 4f + 3 inputs.
  InputBound input_bound() const override { return {4, 3}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

}  // namespace murmur
