// Bucketing (Karimireddy, He, Jaggi, 2022, "Byzantine-Robust Learning on
// Heterogeneous Datasets via Bucketing"): randomly permutes the inputs
// (with the caller's Rng, AggregationInput::rng, required) and replaces
// them by the means of consecutive buckets of s, ceil(n/s) outputs in all.
// Averaging shrinks the honest inputs' heterogeneity seen by the rule that
// follows; each Byzantine input spoils at most one bucket, so the rule must
// still tolerate f of ceil(n/s) (use s <= n / (2f) or so). Thread-safety as
// for Aggregator; the Rng is advanced.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class Bucketing final : public PreAggregator {
 public:
  // REQUIRES: bucket_size >= 1.
  explicit Bucketing(int bucket_size, ThreadPool* pool = nullptr);
  std::string name() const override { return "bucketing"; }
  size_t OutputCount(size_t n) const override;
  bool KeepsInputOrder() const override { return false; }
  Status ApplyChecked(const CheckedInput& in,
                      std::vector<std::vector<float>>& out) const override;

 private:
  const size_t bucket_size_;
};

}  // namespace murmur
