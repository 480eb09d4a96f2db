#include "learn/dp_sgd.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace murmur {

std::vector<int64_t> PoissonSample(std::span<const int64_t> shard, double q, Rng& rng) {
  MURMUR_CHECK(q > 0 && q <= 1);
  std::vector<int64_t> out;
  if (q == 1) return {shard.begin(), shard.end()};
  // The gap before the next included sample is geometric: P(gap = k) =
  // (1 - q)^k q, drawn by inversion from one uniform.
  const double log_miss = std::log1p(-q);
  for (double at = 0;;) {
    const double u = 1.0 - rng.Uniform();  // in (0, 1]
    at += std::floor(std::log(u) / log_miss);
    if (!(at < static_cast<double>(shard.size()))) break;
    out.push_back(shard[static_cast<size_t>(at)]);
    at += 1;
  }
  return out;
}

namespace {

// Clip-and-sum of one sample's gradient g (num_params floats) into `sum`
// over [lo, hi): the per-sample loop's body, also the reference the fast
// path must match.
void AddClipped(const float* g, double clip, int64_t lo, int64_t hi, std::span<float> sum,
                ClippedSum& out) {
  double sq = 0;
  for (int64_t k = lo; k < hi; ++k) sq += static_cast<double>(g[k]) * g[k];
  const double norm = std::sqrt(sq);
  if (!std::isfinite(norm)) {
    ++out.clipped;
    return;  // a broken gradient could carry any amount: drop it
  }
  if (norm > clip) {
    ++out.clipped;
    const auto scale = static_cast<float>(clip / norm);
    for (int64_t k = lo; k < hi; ++k) sum[k] += scale * g[k];
  } else {
    for (int64_t k = lo; k < hi; ++k) sum[k] += g[k];
  }
}

// One forward and backward pass per sample: works for every model.
void LoopClippedSum(const TorchModel& model, at::Tensor& p, const at::Tensor& x,
                    const at::Tensor& y, double clip, int64_t lo, int64_t hi,
                    std::span<float> sum, ClippedSum& out) {
  at::AutoGradMode grad_mode(true);
  for (int64_t i = 0; i < x.size(0); ++i) {
    at::Tensor loss =
        at::cross_entropy_loss(model.Forward(p, x.narrow(0, i, 1)), y.narrow(0, i, 1));
    loss.backward();
    out.loss_sum += loss.item<double>();
    at::Tensor grad = p.grad().cpu().contiguous();  // a host copy where p is on a GPU
    AddClipped(grad.data_ptr<float>(), clip, lo, hi, sum, out);
    p.mutable_grad().reset();
  }
}

// The clipped sum of the per-sample gradients in `layers` over [lo, hi):
// the norms in double as in AddClipped, samples with a non-finite norm left
// out, the scaled sum by per_sample_grad.h's products.
void AddClippedLayers(const std::vector<PerSampleLayerGrad>& layers, double clip, int64_t lo,
                      int64_t hi, std::span<float> sum, ClippedSum& out) {
  at::NoGradGuard no_grad;
  const at::Tensor norms = PerSampleSquaredNorms(layers, lo, hi).sqrt().cpu().contiguous();
  const int64_t n = norms.size(0);
  const double* nd = norms.data_ptr<double>();
  std::vector<float> scales;
  std::vector<int64_t> finite;
  for (int64_t i = 0; i < n; ++i) {
    const double norm = nd[i];
    if (!std::isfinite(norm) || norm > clip) ++out.clipped;
    if (!std::isfinite(norm)) continue;
    finite.push_back(i);
    scales.push_back(norm > clip ? static_cast<float>(clip / norm) : 1.0f);
  }
  if (finite.empty()) return;
  const at::Device device = layers[0].delta.defined() ? layers[0].delta.device()
                                                      : layers[0].full.device();
  const at::Tensor s =
      at::from_blob(scales.data(), {static_cast<int64_t>(scales.size())}, at::kFloat).to(device);
  if (static_cast<int64_t>(finite.size()) < n) {
    const at::Tensor keep = at::tensor(finite, at::kLong).to(device);
    AddScaledSum(Select(layers, keep), s, lo, hi, sum.data());
  } else {
    AddScaledSum(layers, s, lo, hi, sum.data());
  }
}

// Samples through the fast path at once: bounds the saved activations and
// the convolutions' per-sample gradients (a linear layer's are never
// formed); larger batches go in chunks.
constexpr int64_t kFastPathChunk = 256;

}  // namespace

ClippedSum ClippedGradientSum(const TorchModel& model, at::Tensor& p, const at::Tensor& x,
                              const at::Tensor& y, double clip, int64_t lo, int64_t hi,
                              std::span<float> sum, PerSampleMode mode) {
  MURMUR_CHECK(x.size(0) == y.size(0) && clip > 0 && 0 <= lo && lo < hi &&
               hi <= static_cast<int64_t>(sum.size()));
  std::fill(sum.begin(), sum.end(), 0.0f);
  ClippedSum out;
  const int64_t n = x.size(0);
  if (mode == PerSampleMode::kLoop || n == 0) {
    LoopClippedSum(model, p, x, y, clip, lo, hi, sum, out);
    return out;
  }
  const int64_t chunk = kFastPathChunk;
  for (int64_t at = 0; at < n; at += chunk) {
    const int64_t rows = std::min(chunk, n - at);
    at::Tensor losses;
    std::vector<PerSampleLayerGrad> layers;
    if (!model.PerSampleGradients(p, x.narrow(0, at, rows), y.narrow(0, at, rows), &layers,
                                  &losses)) {  // no vectorized path for this model
      MURMUR_CHECK(at == 0);
      LoopClippedSum(model, p, x, y, clip, lo, hi, sum, out);
      return out;
    }
    out.loss_sum += losses.to(at::kDouble).sum().item<double>();
    AddClippedLayers(layers, clip, lo, hi, sum, out);
  }
  return out;
}

DpSgdState::DpSgdState(const DpSgdOptions& options, int64_t expected_batch, int64_t shard_size,
                       Rng sampling_rng, Rng noise_rng)
    : options_(options),
      expected_batch_(expected_batch),
      q_(static_cast<double>(expected_batch) / static_cast<double>(shard_size)),
      sampling_rng_(sampling_rng),
      noise_rng_(noise_rng) {
  MURMUR_CHECK(expected_batch >= 1 && expected_batch <= shard_size);
  MURMUR_CHECK(options.clip > 0 && options.noise_multiplier >= 0);
}

void DpSgdState::NoisyGradient(const TorchModel& model, const Dataset& train,
                               std::span<const int64_t> shard, at::Tensor& p, int64_t lo,
                               int64_t hi, std::span<float> grad, double* loss_sum,
                               int64_t* samples) {
  const std::vector<int64_t> batch = PoissonSample(shard, q_, sampling_rng_);
  const auto n = static_cast<int64_t>(batch.size());
  const int64_t dim = train.sample_dim();
  at::Tensor x = at::empty({n, train.channels, train.height, train.width}, at::kFloat);
  at::Tensor y = at::empty({n}, at::kLong);
  float* xd = x.data_ptr<float>();
  int64_t* yd = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    train.CopySample(batch[i], xd + i * dim);
    yd[i] = train.labels[batch[i]];
  }
  if (!p.device().is_cpu()) {  // the model's device (train.device)
    x = x.to(p.device());
    y = y.to(p.device());
  }
  const ClippedSum clipped =
      ClippedGradientSum(model, p, x, y, options_.clip, lo, hi, grad,
                         options_.per_sample_loop ? PerSampleMode::kLoop : PerSampleMode::kFast);
  // Noise even on an empty batch: whether a batch was empty is itself private.
  const double stddev = options_.noise_multiplier * options_.clip;
  const double inv_batch = 1.0 / static_cast<double>(expected_batch_);
  for (int64_t k = lo; k < hi; ++k) {
    const double noise = stddev > 0 ? stddev * noise_rng_.Normal() : 0.0;
    grad[k] = static_cast<float>((static_cast<double>(grad[k]) + noise) * inv_batch);
  }
  *loss_sum += clipped.loss_sum;
  *samples += n;
  steps_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace murmur
