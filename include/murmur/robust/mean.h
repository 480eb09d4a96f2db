// Arithmetic mean and weighted mean: the non-robust baseline (FedAvg,
// McMahan et al., 2017, "Communication-Efficient Learning of Deep Networks
// from Decentralized Data", averages client models weighted by their
// dataset sizes). Tolerates no Byzantine input: one input can move the output
// anywhere. Non-finite inputs are dropped (with their weights) like in every
// rule. Accepts weights: out = sum_i w_i x_i / sum_i w_i; equal weights when
// none are given. Accumulates in double, so the output is finite for finite
// inputs. Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class Mean final : public Aggregator {
 public:
  explicit Mean(ThreadPool* pool = nullptr) : Aggregator(0, pool) {}
  std::string name() const override { return "mean"; }
  bool accepts_weights() const override { return true; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

}  // namespace murmur
