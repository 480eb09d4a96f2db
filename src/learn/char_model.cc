#include "learn/char_model.h"

#include <cmath>
#include <string>
#include <vector>

#include "learn/per_sample_grad.h"
#include "learn/torch_model.h"
#include "murmur/learn/text_dataset.h"

namespace murmur {
namespace {

// Flat layout: embedding [vocab, dim], then for each linear layer its weight
// [out, in] and bias [out], as in the feed-forward models.
class CharMlpModel final : public TorchModel {
 public:
  CharMlpModel(int64_t vocab, int64_t context, int64_t dim, std::vector<int64_t> widths)
      : vocab_(vocab), context_(context), dim_(dim), widths_(std::move(widths)) {
    name_ = "charmlp-e" + std::to_string(dim_);
    sizes_.push_back(vocab_ * dim_);
    int64_t in = context_ * dim_;
    for (int64_t w : widths_) {
      name_.append("-").append(std::to_string(w));
      sizes_.push_back(w * in);
      sizes_.push_back(w);
      flops_ += 2.0 * static_cast<double>(in) * static_cast<double>(w);
      in = w;
    }
    sizes_.push_back(vocab_ * in);
    sizes_.push_back(vocab_);
    flops_ += 2.0 * static_cast<double>(in) * static_cast<double>(vocab_);
    for (int64_t s : sizes_) num_params_ += s;
  }

  std::string name() const override { return name_; }
  int64_t num_params() const override { return num_params_; }
  double forward_flops_per_sample() const override { return flops_; }

  // The embedding table (fan-in 1: one row per token), then each linear
  // layer's weight and bias, in sizes_ order.
  std::vector<ParamTensor> tensors() const override {
    std::vector<ParamTensor> out;
    int64_t offset = 0;
    out.push_back({.offset = offset, .size = sizes_[0], .fan_in = 1});
    offset += sizes_[0];
    int64_t in = context_ * dim_;
    for (size_t layer = 0; layer <= widths_.size(); ++layer) {
      const int64_t units = layer < widths_.size() ? widths_[layer] : vocab_;
      out.push_back({.offset = offset, .size = units * in, .fan_in = in});
      offset += units * in;
      out.push_back({.offset = offset, .size = units, .fan_in = in});
      offset += units;
      in = units;
    }
    return out;
  }

  // nn.Embedding's N(0, 1) for the embedding; nn.Linear's
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
  void Initialize(std::span<float> params, Rng& rng) const override {
    MURMUR_CHECK(static_cast<int64_t>(params.size()) == num_params_);
    float* p = params.data();
    for (int64_t i = 0; i < sizes_[0]; ++i) *p++ = static_cast<float>(rng.Normal());
    int64_t in = context_ * dim_;
    for (size_t layer = 0; layer <= widths_.size(); ++layer) {
      const int64_t out = layer < widths_.size() ? widths_[layer] : vocab_;
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      for (int64_t i = 0; i < out * in + out; ++i) {
        *p++ = static_cast<float>((2.0 * rng.Uniform() - 1.0) * bound);
      }
      in = out;
    }
  }

  at::Tensor Forward(const at::Tensor& flat_params, const at::Tensor& x) const override {
    MURMUR_CHECK(flat_params.dim() == 1 && flat_params.size(0) == num_params_);
    std::vector<at::Tensor> parts = at::split_with_sizes(flat_params, sizes_);
    const int64_t batch = x.size(0);
    // Ids arrive as exact small floats; clamp so a stray value cannot index
    // outside the table.
    at::Tensor ids = x.reshape({batch, context_}).to(at::kLong).clamp(0, vocab_ - 1);
    at::Tensor h = at::embedding(parts[0].view({vocab_, dim_}), ids)
                       .reshape({batch, context_ * dim_});
    int64_t in = context_ * dim_;
    for (size_t layer = 0; layer <= widths_.size(); ++layer) {
      const int64_t out = layer < widths_.size() ? widths_[layer] : vocab_;
      h = at::linear(h, parts[1 + 2 * layer].view({out, in}), parts[2 + 2 * layer]);
      if (layer < widths_.size()) h = at::relu(h);
      in = out;
    }
    return h;
  }

  // DP-SGD's fast path (per_sample_grad.h). The linear layers as in the
  // feed-forward MLP (input and delta, factored); the embedding table's
  // per-sample gradient is formed: sample i's rows are the gradients at its
  // context positions' embedding outputs, summed into the rows of their
  // tokens (a token seen twice in a context gets both positions' share).
  bool PerSampleGradients(const at::Tensor& flat_params, const at::Tensor& x,
                          const at::Tensor& y, std::vector<PerSampleLayerGrad>* layers,
                          at::Tensor* losses) const override {
    MURMUR_CHECK(flat_params.dim() == 1 && flat_params.size(0) == num_params_);
    at::AutoGradMode grad_mode(true);
    std::vector<at::Tensor> parts = at::split_with_sizes(flat_params.detach(), sizes_);
    const int64_t batch = x.size(0);
    at::Tensor ids = x.reshape({batch, context_}).to(at::kLong).clamp(0, vocab_ - 1);
    at::Tensor embedded = at::embedding(parts[0].view({vocab_, dim_}), ids);  // [n, c, d]
    at::Tensor embedding_probe = at::zeros_like(embedded).requires_grad_(true);
    at::Tensor h = (embedded + embedding_probe).reshape({batch, context_ * dim_});
    std::vector<at::Tensor> inputs;
    std::vector<at::Tensor> probes;
    int64_t in = context_ * dim_;
    for (size_t layer = 0; layer <= widths_.size(); ++layer) {
      const int64_t out = layer < widths_.size() ? widths_[layer] : vocab_;
      inputs.push_back(h.detach());
      at::Tensor z = at::linear(h, parts[1 + 2 * layer].view({out, in}), parts[2 + 2 * layer]);
      probes.push_back(at::zeros_like(z).requires_grad_(true));
      h = z + probes.back();
      if (layer < widths_.size()) h = at::relu(h);
      in = out;
    }
    *losses = BackwardPerSampleLosses(h, y);
    at::NoGradGuard no_grad;
    layers->clear();
    at::Tensor table = at::zeros({batch, vocab_, dim_}, embedded.options());
    table.scatter_add_(1, ids.unsqueeze(2).expand({batch, context_, dim_}),
                       embedding_probe.grad());
    layers->push_back({.offset = 0,
                       .weight_numel = vocab_ * dim_,
                       .bias_numel = 0,
                       .full = table.reshape({batch, vocab_ * dim_})});
    int64_t offset = sizes_[0];
    for (size_t layer = 0; layer <= widths_.size(); ++layer) {
      layers->push_back(LinearLayerGrad(offset, inputs[layer], probes[layer].grad()));
      offset += sizes_[1 + 2 * layer] + sizes_[2 + 2 * layer];
    }
    return true;
  }

 private:
  const int64_t vocab_;
  const int64_t context_;
  const int64_t dim_;
  const std::vector<int64_t> widths_;
  std::string name_;
  std::vector<int64_t> sizes_;
  int64_t num_params_ = 0;
  double flops_ = 0;
};

}  // namespace

Result<std::unique_ptr<Model>> MakeCharMlp(const ModelConfig& config, const InputShape& input) {
  if (input.channels != 1 || input.height != 1) {
    return Status::InvalidArgument(
        "model.kind = \"charmlp\" reads character contexts (data.dataset = \"fortunes\"), "
        "not ", input.channels, "x", input.height, "x", input.width, " images");
  }
  if (input.num_classes != kCharVocabSize) {
    return Status::InvalidArgument(
        "model.kind = \"charmlp\" predicts the next character (", kCharVocabSize,
        " classes, its vocabulary too) but the dataset has ", input.num_classes,
        " classes; use model.kind = \"mlp\"");
  }
  if (config.embedding_dim < 1) {
    return Status::InvalidArgument("model.embedding = ", config.embedding_dim,
                                   " must be at least 1");
  }
  for (size_t i = 0; i < config.hidden.size(); ++i) {
    if (config.hidden[i] < 1) {
      return Status::InvalidArgument("model: char MLP hidden layer ", i, " has width ",
                                     config.hidden[i], ", must be at least 1");
    }
  }
  return std::unique_ptr<Model>(std::make_unique<CharMlpModel>(
      input.num_classes, input.width, config.embedding_dim, config.hidden));
}

}  // namespace murmur
