// A rule preceded by pre-aggregators, applied in order: e.g. ARC, then NNM,
// then trimmed mean. The chain is itself an Aggregator: non-finite inputs
// are dropped once, up front, and every stage sees the adjusted f. Weights
// reach the rule only when every pre-aggregator keeps the input order
// (clipping, NNM); with Bucketing in the chain, weights are rejected. The
// reference goes to the rule. Owns its stages; thread-safety as for
// Aggregator.
#pragma once

#include <memory>
#include <vector>

#include "murmur/robust/aggregator.h"

namespace murmur {

class AggregatorChain final : public Aggregator {
 public:
  // `f` is the chain's: every stage and the rule see it, also when the rule
  // itself ignores f (mean), so that e.g. NNM before the mean still mixes
  // each input with its n - f nearest.
  // REQUIRES: rule non-null; every stage non-null; f >= 0.
  AggregatorChain(std::vector<std::unique_ptr<PreAggregator>> stages,
                  std::unique_ptr<Aggregator> rule, int f, ThreadPool* pool = nullptr);
  ~AggregatorChain() override;

  // Stage names joined by '>', e.g. "arc>nnm>trimmed-mean".
  std::string name() const override;
  bool accepts_weights() const override;
  bool needs_reference() const override { return rule_->needs_reference(); }
  // Each stage's precondition on the count it receives, then the rule's.
  Status CheckPreconditions(size_t n, int f) const override;
  // The smallest n that passes CheckPreconditions (a count every stage
  // keeps or shrinks, so a search up from the rule's own minimum).
  size_t MinInputs(int f) const override;
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;

 private:
  std::vector<std::unique_ptr<PreAggregator>> stages_;
  std::unique_ptr<Aggregator> rule_;
};

}  // namespace murmur
