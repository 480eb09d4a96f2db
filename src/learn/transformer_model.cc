#include "learn/transformer_model.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "learn/torch_model.h"
#include "murmur/learn/text_dataset.h"

namespace murmur {
namespace {

// GPT-2's initialization: N(0, 0.02) weights and embeddings, zero biases,
// unit LayerNorm gains, and the projections back into the residual stream
// scaled by 1 / sqrt(2 * layers) so the stream's variance does not grow with
// depth.
constexpr double kInitStd = 0.02;
constexpr double kLayerNormEps = 1e-5;

enum class Role { kEmbedding, kWeight, kResidualWeight, kBias, kGain };

struct Slot {
  int64_t size = 0;
  int64_t fan_in = 1;
  Role role = Role::kWeight;
};

// Indices into the split buffer for one block, in layout order.
enum BlockPart : int64_t {
  kLn1Gain, kLn1Bias, kQkvWeight, kQkvBias, kOutWeight, kOutBias,
  kLn2Gain, kLn2Bias, kFfnWeight, kFfnBias, kFfn2Weight, kFfn2Bias, kBlockParts
};

using Config = TransformerConfig;

std::vector<Slot> Layout(const Config& c, int64_t vocab) {
  const int64_t w = c.width;
  const int64_t hidden = c.ffn_mult * w;
  std::vector<Slot> slots;
  if (c.positions == Config::Positions::kLearned) {
    slots.push_back({.size = c.context * w, .fan_in = 1, .role = Role::kEmbedding});
  }
  for (int64_t l = 0; l < c.layers; ++l) {
    slots.push_back({.size = w, .fan_in = 1, .role = Role::kGain});
    slots.push_back({.size = w, .fan_in = 1, .role = Role::kBias});
    slots.push_back({.size = 3 * w * w, .fan_in = w, .role = Role::kWeight});
    slots.push_back({.size = 3 * w, .fan_in = w, .role = Role::kBias});
    slots.push_back({.size = w * w, .fan_in = w, .role = Role::kResidualWeight});
    slots.push_back({.size = w, .fan_in = w, .role = Role::kBias});
    slots.push_back({.size = w, .fan_in = 1, .role = Role::kGain});
    slots.push_back({.size = w, .fan_in = 1, .role = Role::kBias});
    slots.push_back({.size = hidden * w, .fan_in = w, .role = Role::kWeight});
    slots.push_back({.size = hidden, .fan_in = w, .role = Role::kBias});
    slots.push_back({.size = w * hidden, .fan_in = hidden, .role = Role::kResidualWeight});
    slots.push_back({.size = w, .fan_in = hidden, .role = Role::kBias});
  }
  slots.push_back({.size = w, .fan_in = 1, .role = Role::kGain});
  slots.push_back({.size = w, .fan_in = 1, .role = Role::kBias});
  const bool tied = c.embeddings == Config::Embeddings::kTied;
  // Tied, the embedding is the head's weight: fan-in w, so that it pairs
  // with the output bias as OutputLayerOf expects.
  slots.push_back({.size = vocab * w, .fan_in = tied ? w : 1, .role = Role::kEmbedding});
  if (!tied) slots.push_back({.size = vocab * w, .fan_in = w, .role = Role::kWeight});
  slots.push_back({.size = vocab, .fan_in = w, .role = Role::kBias});
  return slots;
}

// Vaswani et al.'s fixed positions: PE[t, 2i] = sin(t / 10000^(2i/w)),
// PE[t, 2i+1] = cos(t / 10000^(2i/w)). Computed in double, then rounded.
at::Tensor Sinusoids(int64_t context, int64_t width) {
  at::Tensor table = at::empty({context, width}, at::kFloat);
  float* out = table.data_ptr<float>();
  for (int64_t t = 0; t < context; ++t) {
    for (int64_t j = 0; j < width; ++j) {
      const double rate = std::pow(10000.0, -static_cast<double>(j - j % 2) /
                                                static_cast<double>(width));
      const double angle = static_cast<double>(t) * rate;
      out[t * width + j] = static_cast<float>(j % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  }
  return table;
}

class TransformerModel final : public TorchModel {
 public:
  TransformerModel(const Config& config, int64_t vocab)
      : c_(config), vocab_(vocab), slots_(Layout(config, vocab)) {
    for (const Slot& s : slots_) {
      sizes_.push_back(s.size);
      num_params_ += s.size;
    }
    name_ = "transformer-l" + std::to_string(c_.layers) + "-w" + std::to_string(c_.width) +
            "-h" + std::to_string(c_.heads) + "-t" + std::to_string(c_.context);
    if (c_.positions == Config::Positions::kSinusoidal) sinusoids_ = Sinusoids(c_.context, c_.width);
    const auto w = static_cast<double>(c_.width);
    const auto t = static_cast<double>(c_.context);
    const auto f = static_cast<double>(c_.ffn_mult);
    // Per token: the block GEMMs, QK^T and attention x V over all t keys
    // (masked ones included), and the head; x2 for multiply-adds.
    const double per_token = static_cast<double>(c_.layers) * (2.0 * (4.0 + 2.0 * f) * w * w +
                                                               4.0 * t * w) +
                             2.0 * static_cast<double>(vocab_) * w;
    flops_ = t * per_token;
  }

  std::string name() const override { return name_; }
  int64_t num_params() const override { return num_params_; }
  double forward_flops_per_sample() const override { return flops_; }

  std::vector<ParamTensor> tensors() const override {
    std::vector<ParamTensor> out;
    int64_t offset = 0;
    for (const Slot& s : slots_) {
      out.push_back({.offset = offset, .size = s.size, .fan_in = s.fan_in});
      offset += s.size;
    }
    return out;
  }

  void Initialize(std::span<float> params, Rng& rng) const override {
    MURMUR_CHECK(static_cast<int64_t>(params.size()) == num_params_);
    const double residual_std = kInitStd / std::sqrt(2.0 * static_cast<double>(c_.layers));
    float* p = params.data();
    for (const Slot& s : slots_) {
      for (int64_t i = 0; i < s.size; ++i) {
        switch (s.role) {
          case Role::kEmbedding:
          case Role::kWeight:
            *p++ = static_cast<float>(kInitStd * rng.Normal());
            break;
          case Role::kResidualWeight:
            *p++ = static_cast<float>(residual_std * rng.Normal());
            break;
          case Role::kBias:
            *p++ = 0.0f;
            break;
          case Role::kGain:
            *p++ = 1.0f;
            break;
        }
      }
    }
  }

  at::Tensor Forward(const at::Tensor& flat_params, const at::Tensor& x) const override {
    MURMUR_CHECK(flat_params.dim() == 1 && flat_params.size(0) == num_params_);
    const std::vector<at::Tensor> parts = at::split_with_sizes(flat_params, sizes_);
    const int64_t batch = x.size(0);
    const int64_t t = c_.context;
    const int64_t w = c_.width;
    size_t next = 0;
    at::Tensor positions = c_.positions == Config::Positions::kLearned
                               ? parts[next++].view({t, w})
                               : sinusoids_.to(x.device());
    const size_t blocks = next;
    next += static_cast<size_t>(c_.layers * kBlockParts);
    const at::Tensor& final_gain = parts[next++];
    const at::Tensor& final_bias = parts[next++];
    const at::Tensor embedding = parts[next++].view({vocab_, w});
    const at::Tensor head = c_.embeddings == Config::Embeddings::kTied
                                ? embedding
                                : parts[next++].view({vocab_, w});
    const at::Tensor& head_bias = parts[next++];

    at::Tensor h = at::embedding(embedding, TokenIds(x)) + positions;  // [batch, t, w]
    // True above the diagonal: key j > query i is in the future.
    const at::Tensor future =
        at::ones({t, t}, at::TensorOptions().dtype(at::kBool).device(x.device())).triu(1);
    for (int64_t l = 0; l < c_.layers; ++l) {
      h = Block(h, &parts[blocks + static_cast<size_t>(l * kBlockParts)], future);
    }
    h = at::layer_norm(h, {w}, final_gain, final_bias, kLayerNormEps);
    return at::linear(h, head, head_bias).reshape({batch * t, vocab_});
  }

  // Position i's target is token i + 1 of the window; the last position's
  // is the sample's label (the token after the window).
  at::Tensor Targets(const at::Tensor& x, const at::Tensor& labels) const override {
    const at::Tensor ids = TokenIds(x);
    return at::cat({ids.slice(1, 1), labels.reshape({-1, 1}).to(at::kLong)}, 1).reshape({-1});
  }

 private:
  // Ids arrive as exact small floats; clamped so a stray value cannot index
  // outside the table.
  at::Tensor TokenIds(const at::Tensor& x) const {
    return x.reshape({x.size(0), c_.context}).to(at::kLong).clamp(0, vocab_ - 1);
  }

  // One pre-norm block over h [batch, t, w]; `p` points at its kBlockParts
  // tensors.
  at::Tensor Block(const at::Tensor& h, const at::Tensor* p, const at::Tensor& future) const {
    const int64_t batch = h.size(0);
    const int64_t t = c_.context;
    const int64_t w = c_.width;
    const int64_t heads = c_.heads;
    const int64_t head_dim = w / heads;
    at::Tensor a = at::layer_norm(h, {w}, p[kLn1Gain], p[kLn1Bias], kLayerNormEps);
    // [batch, t, 3w] -> [3, batch, heads, t, head_dim]
    at::Tensor qkv = at::linear(a, p[kQkvWeight].view({3 * w, w}), p[kQkvBias])
                         .view({batch, t, 3, heads, head_dim})
                         .permute({2, 0, 3, 1, 4});
    at::Tensor scores = at::matmul(qkv[0], qkv[1].transpose(-2, -1)) *
                        (1.0 / std::sqrt(static_cast<double>(head_dim)));
    // exp(-inf) is exactly 0, so a future token's value is multiplied by an
    // exact zero: earlier positions' outputs do not depend on it at all.
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
    at::Tensor attended = at::matmul(at::softmax(scores, -1), qkv[2])
                              .transpose(1, 2)
                              .reshape({batch, t, w});
    at::Tensor out = h + at::linear(attended, p[kOutWeight].view({w, w}), p[kOutBias]);
    const int64_t hidden = c_.ffn_mult * w;
    at::Tensor m = at::layer_norm(out, {w}, p[kLn2Gain], p[kLn2Bias], kLayerNormEps);
    m = at::gelu(at::linear(m, p[kFfnWeight].view({hidden, w}), p[kFfnBias]));
    return out + at::linear(m, p[kFfn2Weight].view({w, hidden}), p[kFfn2Bias]);
  }

  const Config c_;
  const int64_t vocab_;
  const std::vector<Slot> slots_;
  std::vector<int64_t> sizes_;
  at::Tensor sinusoids_;  // [context, width]; sinusoidal positions only
  std::string name_;
  int64_t num_params_ = 0;
  double flops_ = 0;
};

}  // namespace

int64_t TransformerParamCount(const TransformerConfig& config, int64_t vocab) {
  int64_t total = 0;
  for (const Slot& s : Layout(config, vocab)) total += s.size;
  return total;
}

Result<std::unique_ptr<Model>> MakeTransformer(const ModelConfig& config, const InputShape& input) {
  const TransformerConfig& c = config.transformer;
  if (input.channels != 1 || input.height != 1) {
    return Status::InvalidArgument(
        "model.kind = \"transformer\" reads windows of character ids from a text dataset "
        "(data.dataset = \"fortunes\", or LEAF Shakespeare), not ",
        input.channels, "x", input.height, "x", input.width, " images");
  }
  if (input.num_classes != kCharVocabSize) {
    return Status::InvalidArgument(
        "model.kind = \"transformer\" predicts the next character (", kCharVocabSize,
        " classes, its vocabulary too) but the dataset has ", input.num_classes,
        " classes; use a text dataset (data.dataset = \"fortunes\")");
  }
  const std::pair<const char*, int64_t> sizes[] = {{"model.layers", c.layers},
                                                   {"model.width", c.width},
                                                   {"model.heads", c.heads},
                                                   {"model.context", c.context},
                                                   {"model.ffn_mult", c.ffn_mult}};
  for (const auto& [key, value] : sizes) {
    if (value < 1) return Status::InvalidArgument(key, " = ", value, " must be at least 1");
  }
  if (c.width % c.heads != 0) {
    return Status::InvalidArgument(
        "model.width = ", c.width, " is not divisible by model.heads = ", c.heads,
        ": each head attends over width / heads dimensions; choose heads that divide the width");
  }
  if (input.width != c.context) {
    return Status::InvalidArgument("model.context = ", c.context, " but the dataset's samples hold ",
                                   input.width, " characters; set model.context = ", input.width);
  }
  return std::unique_ptr<Model>(std::make_unique<TransformerModel>(c, input.num_classes));
}

}  // namespace murmur
