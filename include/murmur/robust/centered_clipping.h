// Centered clipping (Karimireddy, He, Jaggi, 2021, "Learning from History
// for Byzantine Robust Optimization"). Starting from a center v (the
// previous round's aggregate or momentum in the paper; the peer's own model
// in decentralized use), repeats `iterations` times
//   v <- v + (1/n) sum_i (x_i - v) min(1, tau / ||x_i - v||),
// so each input moves the result by at most tau/n per iteration, whatever
// its value. The center is passed per call as AggregationInput::reference;
// without one the center is the zero vector (the first round of the paper's
// algorithm). The rule itself is stateless: callers that want the paper's
// momentum center keep the previous aggregate and pass it back in.
// Tolerates a Byzantine fraction f/n below about 0.1 in the paper's
// analysis (with worker momentum); precondition n > 2f.
// Thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

struct CenteredClippingOptions {
  double tau = 1.0;    // clipping radius, in the inputs' units
  int iterations = 1;  // the paper finds 1 enough with momentum
};

class CenteredClipping final : public Aggregator {
 public:
  // REQUIRES: options.tau > 0, options.iterations >= 1.
  CenteredClipping(int f, CenteredClippingOptions options, ThreadPool* pool = nullptr);
  std::string name() const override { return "centered-clipping"; }
  // Needs n > 2f inputs.
  InputBound input_bound() const override { return {2, 1}; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;

 private:
  const CenteredClippingOptions options_;
};

}  // namespace murmur
