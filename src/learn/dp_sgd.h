// Private to learn/: the per-step work of sample-level DP-SGD (Abadi, Chu,
// Goodfellow, McMahan, Mironov, Talwar, Zhang, 2016, "Deep Learning with
// Differential Privacy"), which Learner::Train runs instead of a plain
// mini-batch gradient once Learner::EnableDpSgd was called:
//  1. Poisson subsampling: every sample of the shard joins the step's batch
//     independently with probability q = L / N (L the expected batch, the
//     learner's batch size; N the shard size), so the batch size varies.
//  2. Per-sample gradients g_i, each clipped to L2 norm C over the trainable
//     range: g_i * min(1, C / ||g_i||). A sample with a non-finite gradient
//     contributes nothing (so no sample contributes more than C).
//  3. Gaussian noise N(0, (sigma C)^2) per trainable coordinate added to the
//     sum, divided by L (the expected batch, not the drawn one: dividing by
//     the drawn size would leak it).
//
// Per-sample gradients: where the model has a vectorized path
// (TorchModel::PerSampleGradients: the logistic regression, MLP and LeNet,
// by Goodfellow 2015's per-layer outer products) one forward and one
// backward pass for the whole batch; otherwise (char model, transformer,
// ResNet, TorchScript modules) one forward and backward pass per sample (a
// batch of one) through the model's own autograd graph, which is exact for
// every model that does not mix samples (no batch norm) at B passes per
// step. bench/dp_sgd_bench.cc measures both (docs/privacy.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include <ATen/ATen.h>

#include "learn/torch_model.h"
#include "murmur/core/rng.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"

namespace murmur {

// The Poisson sample of `shard` at rate q: each index included independently
// with probability q, in shard order. Draws from `rng` by geometric skips
// (O(q N) draws, not N), which gives the same distribution as one Bernoulli
// trial per sample. REQUIRES: 0 < q <= 1.
std::vector<int64_t> PoissonSample(std::span<const int64_t> shard, double q, Rng& rng);

// How ClippedGradientSum gets the per-sample gradients: kFast uses the
// model's vectorized path where it has one and the loop otherwise; kLoop
// always loops (the reference, and the benchmark's baseline).
enum class PerSampleMode { kFast, kLoop };

struct ClippedSum {
  double loss_sum = 0;  // sum of the samples' cross-entropies
  int64_t clipped = 0;  // samples whose gradient norm exceeded the clip
};

// sum_i g_i * min(1, clip / ||g_i||) for the rows of x / y, into `sum`
// (num_params floats, written over [lo, hi) only, zero elsewhere), where g_i
// is the gradient of sample i's cross-entropy at `p` and its norm is taken
// over [lo, hi). `p` must require grad; its grad is left reset. clip may be
// +infinity (no clipping). REQUIRES: x.size(0) == y.size(0), clip > 0,
// 0 <= lo < hi <= num_params. Both modes give the same result up to float
// rounding (the fast path sums in another order).
ClippedSum ClippedGradientSum(const TorchModel& model, at::Tensor& p, const at::Tensor& x,
                              const at::Tensor& y, double clip, int64_t lo, int64_t hi,
                              std::span<float> sum, PerSampleMode mode = PerSampleMode::kFast);

// One learner's DP-SGD state: its options, streams and step count. The
// count is atomic because the runtime's event loop reads it (to report
// epsilon) while a compute thread trains.
class DpSgdState {
 public:
  // `expected_batch` is L; q = L / shard_size.
  DpSgdState(const DpSgdOptions& options, int64_t expected_batch, int64_t shard_size,
             Rng sampling_rng, Rng noise_rng);

  // The noisy clipped gradient of one step, divided by L, into `grad`
  // (num_params floats; [lo, hi) written, the rest zero). Adds the step's
  // loss sum and sample count to `*loss_sum` and `*samples`.
  void NoisyGradient(const TorchModel& model, const Dataset& train,
                     std::span<const int64_t> shard, at::Tensor& p, int64_t lo, int64_t hi,
                     std::span<float> grad, double* loss_sum, int64_t* samples);

  double sampling_rate() const { return q_; }
  const DpSgdOptions& options() const { return options_; }
  int64_t steps() const { return steps_.load(std::memory_order_acquire); }

 private:
  const DpSgdOptions options_;
  const int64_t expected_batch_;
  const double q_;
  Rng sampling_rng_;
  Rng noise_rng_;
  std::atomic<int64_t> steps_{0};
};

}  // namespace murmur
