// Norm clipping pre-aggregators: each input x becomes x * min(1, c/||x||).
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

// Static clipping to a fixed radius tau, the usual companion of robust rules
// and of differential privacy (e.g. Abadi et al., 2016, "Deep Learning with
// Differential Privacy"). Bounds any single input's influence by tau; no
// Byzantine bound of its own. Stateless; thread-safety as for Aggregator.
class StaticClipping final : public PreAggregator {
 public:
  // REQUIRES: tau > 0.
  explicit StaticClipping(double tau, ThreadPool* pool = nullptr);
  std::string name() const override { return "clip"; }
  Status ApplyChecked(const CheckedInput& in,
                      std::vector<std::vector<float>>& out) const override;

 private:
  const double tau_;
};

// Adaptive robust clipping, ARC (Allouah, Guerraoui, Gupta, Pinot, Stephan,
// 2024, "The Vital Role of Gradient Clipping in Byzantine-Resilient
// Distributed Learning"): clips the k = floor(2 (f/n) (n - f)) inputs of
// largest norm to the norm of the (k+1)-th largest, so the radius adapts to
// the honest inputs' scale. Keeps a rule's robustness guarantees while
// bounding the influence of the f largest inputs. Precondition n > 2f.
// Stateless; thread-safety as for Aggregator.
class AdaptiveRobustClipping final : public PreAggregator {
 public:
  explicit AdaptiveRobustClipping(int f, ThreadPool* pool = nullptr)
      : PreAggregator(f, pool) {}
  std::string name() const override { return "arc"; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status ApplyChecked(const CheckedInput& in,
                      std::vector<std::vector<float>>& out) const override;
};

}  // namespace murmur
