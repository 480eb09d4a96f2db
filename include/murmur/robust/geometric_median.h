// Geometric median by the smoothed Weiszfeld algorithm, as in RFA (Pillutla,
// Kakade, Harchaoui, 2022, "Robust Aggregation for Federated Learning").
// Minimizes sum_i w_i max(nu, ||z - x_i||) by iterating
//   z <- sum_i b_i x_i / sum_i b_i,  b_i = w_i / max(nu, ||z - x_i||),
// from the weighted mean, until no coefficient b_i / sum b changes by more
// than `tolerance` relative to itself, or `max_iterations` is reached. Since z stays a convex
// combination of the inputs, the iteration runs on the n x n Gram matrix
// (O(n^2) per iteration) and the inputs are read only twice: once for the
// Gram matrix and once for the final combination; so, unlike RFA's few
// fixed iterations, the default runs to convergence. Tolerates any f < n/2
// arbitrary inputs (breakdown point 1/2); the output is always inside the
// inputs' convex hull. Accepts weights. Precondition n > 2f.
// Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

struct GeometricMedianOptions {
  double nu = 1e-6;          // smoothing: distances below nu count as nu
  int max_iterations = 1000;  // cheap: each iteration is O(n^2)
  double tolerance = 1e-8;   // relative change of every coefficient to stop at
};

class GeometricMedian final : public Aggregator {
 public:
  // REQUIRES: options.nu > 0, max_iterations >= 1, tolerance >= 0.
  explicit GeometricMedian(int f, GeometricMedianOptions options = {},
                           ThreadPool* pool = nullptr);
  std::string name() const override { return "geometric-median"; }
  bool accepts_weights() const override { return true; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;

 private:
  const GeometricMedianOptions options_;
};

}  // namespace murmur
