#include "learn/resnet_model.h"

#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "learn/torch_model.h"

namespace murmur {
namespace {

constexpr double kGroupNormEps = 1e-5;  // torch.nn.GroupNorm's default

// One 3x3 conv of the network and the group norm after it (the stem's, or
// one of a block's two).
struct ConvNorm {
  int64_t in = 0;
  int64_t out = 0;
  int64_t stride = 1;
};

// Flat layout, in forward order: per ConvNorm its conv weight
// [out, in, 3, 3], the group norm's scale [out] and shift [out]; then the
// output layer's weight [classes, c3] and bias [classes] (last, as
// OutputLayerOf requires).
class ResNetModel final : public TorchModel {
 public:
  ResNetModel(std::string name, int64_t blocks_per_stage, int64_t groups, const InputShape& input,
              int64_t c1)
      : name_(std::move(name)), blocks_(blocks_per_stage), groups_(groups), classes_(input.num_classes) {
    convs_.push_back({.in = input.channels, .out = c1, .stride = 1});
    int64_t channels = c1;
    for (int64_t stage = 0; stage < 3; ++stage) {
      const int64_t out = c1 << stage;
      for (int64_t b = 0; b < blocks_; ++b) {
        convs_.push_back({.in = channels, .out = out, .stride = stage > 0 && b == 0 ? 2 : 1});
        convs_.push_back({.in = out, .out = out, .stride = 1});
        channels = out;
      }
    }
    features_ = channels;
    int64_t h = input.height;
    int64_t w = input.width;
    for (const ConvNorm& c : convs_) {
      // A 3x3 conv with padding 1 and stride s maps a side L to
      // floor((L - 1) / s) + 1, which for s = 2 is ceil(L / 2).
      h = (h - 1) / c.stride + 1;
      w = (w - 1) / c.stride + 1;
      flops_ += 2.0 * 9.0 * static_cast<double>(c.in * c.out) * static_cast<double>(h * w);
      sizes_.insert(sizes_.end(), {9 * c.in * c.out, c.out, c.out});
      fan_ins_.insert(fan_ins_.end(), {9 * c.in, 1, 1});
    }
    flops_ += 2.0 * static_cast<double>(features_ * classes_);
    sizes_.insert(sizes_.end(), {features_ * classes_, classes_});
    fan_ins_.insert(fan_ins_.end(), {features_, features_});
    for (int64_t s : sizes_) num_params_ += s;
  }

  std::string name() const override { return name_; }
  int64_t num_params() const override { return num_params_; }
  // The convolutions and the output layer; normalization, ReLU, pooling and
  // shortcut additions are a few flops per activation and left out.
  double forward_flops_per_sample() const override { return flops_; }

  std::vector<ParamTensor> tensors() const override {
    std::vector<ParamTensor> out;
    int64_t offset = 0;
    for (size_t i = 0; i < sizes_.size(); ++i) {
      out.push_back({.offset = offset, .size = sizes_[i], .fan_in = fan_ins_[i]});
      offset += sizes_[i];
    }
    return out;
  }

  // Convs: He, Zhang, Ren, Sun, 2015, "Delving Deep into Rectifiers", as
  // the ResNet paper does: N(0, 2 / fan_in) with fan_in = 9 x in. Group
  // norm: scale 1, shift 0. Output layer: nn.Linear's
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
  void Initialize(std::span<float> params, Rng& rng) const override {
    MURMUR_CHECK(static_cast<int64_t>(params.size()) == num_params_);
    float* p = params.data();
    for (const ConvNorm& c : convs_) {
      const double stddev = std::sqrt(2.0 / static_cast<double>(9 * c.in));
      for (int64_t i = 0; i < 9 * c.in * c.out; ++i) {
        *p++ = static_cast<float>(stddev * rng.Normal());
      }
      for (int64_t i = 0; i < c.out; ++i) *p++ = 1.0f;
      for (int64_t i = 0; i < c.out; ++i) *p++ = 0.0f;
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(features_));
    for (int64_t i = 0; i < features_ * classes_ + classes_; ++i) {
      *p++ = static_cast<float>((2.0 * rng.Uniform() - 1.0) * bound);
    }
  }

  at::Tensor Forward(const at::Tensor& flat_params, const at::Tensor& x) const override {
    MURMUR_CHECK(flat_params.dim() == 1 && flat_params.size(0) == num_params_);
    const std::vector<at::Tensor> parts = at::split_with_sizes(flat_params, sizes_);
    size_t conv = 0;
    // Conv, then group norm, of convs_[conv]; advances to the next.
    auto conv_norm = [&](const at::Tensor& in) {
      const ConvNorm& c = convs_[conv];
      const at::Tensor* p = &parts[3 * conv];
      ++conv;
      at::Tensor h = at::conv2d(in, p[0].view({c.out, c.in, 3, 3}), /*bias=*/{},
                                /*stride=*/{c.stride, c.stride}, /*padding=*/{1, 1});
      return at::group_norm(h, groups_, p[1], p[2], kGroupNormEps);
    };
    at::Tensor h = at::relu(conv_norm(x));
    for (int64_t stage = 0; stage < 3; ++stage) {
      for (int64_t b = 0; b < blocks_; ++b) {
        const int64_t in_channels = convs_[conv].in;
        const int64_t out_channels = convs_[conv].out;
        const bool halves = convs_[conv].stride == 2;
        at::Tensor y = conv_norm(at::relu(conv_norm(h)));
        at::Tensor shortcut = h;
        if (halves) {
          // Option A: every other row and column, new channels zero.
          shortcut = h.slice(2, 0, h.size(2), 2).slice(3, 0, h.size(3), 2);
          shortcut = at::constant_pad_nd(shortcut, {0, 0, 0, 0, 0, out_channels - in_channels});
        }
        h = at::relu(y + shortcut);
      }
    }
    MURMUR_CHECK(conv == convs_.size());
    h = h.mean({2, 3});
    const size_t last = parts.size() - 2;
    return at::linear(h, parts[last].view({classes_, features_}), parts[last + 1]);
  }

 private:
  std::string name_;
  int64_t blocks_;
  int64_t groups_;
  int64_t classes_;
  int64_t features_ = 0;
  std::vector<ConvNorm> convs_;
  std::vector<int64_t> sizes_;
  std::vector<int64_t> fan_ins_;
  int64_t num_params_ = 0;
  double flops_ = 0;
};

}  // namespace

int64_t ResNetParamCount(int64_t depth, int64_t channels, int64_t classes, int64_t c) {
  const int64_t n = (depth - 2) / 6;
  int64_t total = 9 * channels * c + 2 * c;
  int64_t prev = c;
  for (int64_t stage = 0; stage < 3; ++stage) {
    const int64_t cs = c << stage;
    total += 9 * prev * cs + 9 * cs * cs + 4 * cs;
    total += (n - 1) * (18 * cs * cs + 4 * cs);
    prev = cs;
  }
  return total + 4 * c * classes + classes;
}

Result<std::unique_ptr<Model>> MakeResNet(const ModelConfig& config, const InputShape& input) {
  const ResNetOptions& o = config.resnet;
  if (o.depth < 8 || (o.depth - 2) % 6 != 0) {
    return Status::InvalidArgument(
        "model.depth = ", o.depth,
        " is not 6n + 2 with n >= 1: the CIFAR ResNet is a first conv, 3 stages of n blocks of "
        "2 convs and an output layer; use 8, 14, 20, 32, 44, 56 or 110");
  }
  if (!(o.width > 0) || o.width > 64) {
    return Status::InvalidArgument("model.width = ", o.width,
                                   " must be in (0, 64]: it multiplies the 16/32/64 channels");
  }
  const auto c1 = static_cast<int64_t>(std::lround(16.0 * o.width));
  if (c1 < 1) {
    return Status::InvalidArgument("model.width = ", o.width,
                                   " leaves the first stage no channel (16 x width rounds to 0)");
  }
  if (o.groups < 1 || c1 % o.groups != 0) {
    return Status::InvalidArgument("model.groups = ", o.groups,
                                   " must divide the first stage's ", c1,
                                   " channels (16 x model.width) for group normalization");
  }
  std::ostringstream name;
  name << "resnet" << o.depth;
  if (c1 != 16) name << "-c" << c1;
  name << "-gn" << o.groups;
  return std::unique_ptr<Model>(
      std::make_unique<ResNetModel>(name.str(), (o.depth - 2) / 6, o.groups, input, c1));
}

}  // namespace murmur
