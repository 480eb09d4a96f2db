// Evaluate and EvaluatePerClass (murmur/learn/learner.h): a model's test
// loss and accuracy over a dataset, in batches of kEvalBatch samples.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

#include "learn/torch_model.h"
#include "murmur/learn/learner.h"

namespace murmur {
namespace {

// Evaluation batch: large enough to amortize per-op overhead, small enough
// that the CNN's activations stay around 10 MB per evaluating thread.
constexpr int64_t kEvalBatch = 500;

// Samples [start, start + n) of `data` as a float tensor on the CPU: a view
// of float storage, or the byte storage's values decoded for this batch
// only (the same floats either way).
at::Tensor BatchFeatures(const Dataset& data, int64_t start, int64_t n) {
  if (!data.stored_as_bytes()) {
    return at::from_blob(const_cast<float*>(data.features.data() + start * data.sample_dim()),
                         {n, data.channels, data.height, data.width}, at::kFloat);
  }
  at::Tensor x = at::empty({n, data.channels, data.height, data.width}, at::kFloat);
  float* out = x.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) data.CopySample(start + i, out + i * data.sample_dim());
  return x;
}

}  // namespace

EvalStats Evaluate(const Model& model, std::span<const float> params,
                   const Dataset& test, int64_t max_samples) {
  const TorchModel& torch_model = AsTorchModel(model);
  MURMUR_CHECK(static_cast<int64_t>(params.size()) == model.num_params());
  MURMUR_CHECK(test.HoldsEverySample());
  const int64_t total =
      max_samples <= 0 ? test.size() : std::min(max_samples, test.size());
  EvalStats stats;
  if (total == 0) return stats;
  at::init_num_threads();
  c10::InferenceMode inference;
  // Views of the caller's buffers: nothing here writes through them. On a
  // GPU the parameters are copied there once per call, the samples one
  // evaluation batch at a time.
  const at::Device device = torch_model.device();
  at::Tensor p = at::from_blob(const_cast<float*>(params.data()),
                               {static_cast<int64_t>(params.size())},
                               at::kFloat).to(device);
  at::Tensor ys = at::from_blob(const_cast<int64_t*>(test.labels.data()),
                                {total}, at::kLong);
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t predictions = 0;
  for (int64_t start = 0; start < total; start += kEvalBatch) {
    const int64_t n = std::min(kEvalBatch, total - start);
    const at::Tensor x = BatchFeatures(test, start, n).to(device);
    const at::Tensor y = torch_model.Targets(x, ys.narrow(0, start, n).to(device));
    at::Tensor logits = torch_model.Forward(p, x);
    predictions += y.size(0);
    // Summed in double so the mean does not depend on the batching.
    loss_sum += at::cross_entropy_loss(logits, y, /*weight=*/{},
                                       at::Reduction::None)
                    .sum(at::kDouble)
                    .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  }
  // Per prediction: per sample, or per token for a sequence model.
  stats.samples = total;
  stats.accuracy = static_cast<double>(correct) / static_cast<double>(predictions);
  stats.loss = loss_sum / static_cast<double>(predictions);
  return stats;
}

ClassAccuracy EvaluatePerClass(const Model& model, std::span<const float> params,
                               const Dataset& data) {
  const TorchModel& torch_model = AsTorchModel(model);
  MURMUR_CHECK(static_cast<int64_t>(params.size()) == model.num_params());
  MURMUR_CHECK(data.HoldsEverySample());
  ClassAccuracy out;
  out.correct.assign(static_cast<size_t>(data.num_classes), 0);
  out.total.assign(static_cast<size_t>(data.num_classes), 0);
  const int64_t total = data.size();
  if (total == 0) return out;
  at::init_num_threads();
  c10::InferenceMode inference;
  const at::Device device = torch_model.device();
  at::Tensor p = at::from_blob(const_cast<float*>(params.data()),
                               {static_cast<int64_t>(params.size())}, at::kFloat).to(device);
  at::Tensor ys = at::from_blob(const_cast<int64_t*>(data.labels.data()), {total}, at::kLong);
  for (int64_t start = 0; start < total; start += kEvalBatch) {
    const int64_t n = std::min(kEvalBatch, total - start);
    const at::Tensor x = BatchFeatures(data, start, n).to(device);
    at::Tensor logits = torch_model.Forward(p, x).contiguous();
    // One target per logits row: the label, or each position's next token.
    at::Tensor targets = torch_model.Targets(x, ys.narrow(0, start, n).to(device))
                             .to(at::kLong)
                             .to(at::kCPU)
                             .contiguous();
    // argmax of a row with a NaN would pick the NaN; such a model is wrong.
    at::Tensor finite = at::isfinite(logits).all(1).to(at::kCPU).contiguous();
    at::Tensor predicted = logits.argmax(1).to(at::kCPU).contiguous();
    const int64_t* pred = predicted.data_ptr<int64_t>();
    const bool* ok = finite.data_ptr<bool>();
    const int64_t* target = targets.data_ptr<int64_t>();
    for (int64_t i = 0; i < targets.size(0); ++i) {
      const int64_t y = target[i];
      MURMUR_CHECK(y >= 0 && y < data.num_classes);
      ++out.total[y];
      if (ok[i] && pred[i] == y) ++out.correct[y];
    }
  }
  return out;
}

}  // namespace murmur
