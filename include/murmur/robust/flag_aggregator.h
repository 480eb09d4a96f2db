// Flag Aggregator (Almasi, Mishra, Vamanan, Ravi, 2024, "Flag Aggregator:
// Scalable Distributed Training under Failures and Augmented Losses using
// Convex Optimization", ICLR). Treats the normalized inputs u_i = x_i/||x_i||
// as points to be explained by an m-dimensional subspace Y (orthonormal
// d x m) and finds the flag median
//   Y = argmin sum_i sqrt(1 - ||Y^T u_i||^2)
// (a maximum-likelihood estimate under the paper's Beta model of each
// worker's reconstruction ratio ||Y^T u_i||^2) by iteratively reweighted
// least squares: each step takes Y as the top-m left singular vectors of
// [a_1 u_1, ..., a_n u_n] with a_i = (1 - ||Y^T u_i||^2 + eps)^(-1/4). Since
// n << d, every step runs on the n x n Gram matrix (eigendecomposition of
// diag(a) K diag(a), K_ij = <u_i, u_j>), and the inputs are read twice in
// all. The output follows the authors' reference implementation:
//   out = (1/m) Y Y^T sum_i u_i,
// a direction whose norm is at most n/m whatever the inputs' magnitudes.
// With `rescale_to_median_norm` the output is instead scaled to the median
// input norm (a magnitude honest inputs control when f < n/2).
// Departures from the reference: the iteration starts from the
// (deterministic) unweighted flag mean instead of a random subspace, the
// pairwise regularizer (the paper's lambda, 0 by default there) is not
// implemented, and m is reduced to the rank of the inputs when they span
// fewer dimensions. Tolerates Byzantine inputs by down-weighting those far
// from the common subspace; it has no hard f bound (f is used only for the
// non-finite accounting). Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

struct FlagAggregatorOptions {
  int subspace_dim = 1;   // m; the reference implementation's default
  int max_iterations = 10;
  double eps = 1e-7;      // keeps IRLS weights finite for inputs in Y
  bool rescale_to_median_norm = false;
};

class FlagAggregator final : public Aggregator {
 public:
  // REQUIRES: subspace_dim >= 1, max_iterations >= 0, eps > 0.
  FlagAggregator(int f, FlagAggregatorOptions options, ThreadPool* pool = nullptr);
  std::string name() const override { return "flag"; }
  const FlagAggregatorOptions& options() const { return options_; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;

 private:
  const FlagAggregatorOptions options_;
};

}  // namespace murmur
