#include "murmur/learn/model.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/grad_mode.h>

#include "learn/char_model.h"
#include "learn/resnet_model.h"
#include "learn/torch_model.h"
#include "learn/torchscript_model.h"
#include "learn/transformer_model.h"

namespace murmur {
namespace {

enum class Activation { kNone, kRelu };

// out[i] = (2u - 1) * bound for n draws u = rng.Uniform(), in stream order.
void FillSymmetricUniform(Rng& rng, double bound, float* out, int64_t n) {
  constexpr int64_t kChunk = 256;
  double u[kChunk];
  for (int64_t at = 0; at < n; at += kChunk) {
    const int64_t m = std::min(kChunk, n - at);
    rng.Uniforms({u, static_cast<size_t>(m)});
    for (int64_t j = 0; j < m; ++j) out[at + j] = static_cast<float>((2.0 * u[j] - 1.0) * bound);
  }
}

// One layer of a feed-forward stack. Its parameters are the weight
// ([out, in] or [out, in, k, k]) followed by the bias ([out]), laid out
// row-major in the flat buffer, layer after layer.
struct Layer {
  enum class Kind { kConv, kLinear };
  Kind kind;
  int64_t in = 0;
  int64_t out = 0;
  int64_t kernel = 1;   // conv only
  int64_t padding = 0;  // conv only
  bool relu = false;
  bool max_pool2 = false;  // conv only: 2x2 max pooling
  double flops = 0;        // multiply-adds x2 for one sample

  int64_t fan_in() const { return in * kernel * kernel; }
  int64_t weight_numel() const { return out * fan_in(); }
};

// 2x2 max pooling (stride 2, floor) as the maximum of four strided views.
// Bitwise equal to at::max_pool2d and ~7x faster forward, but its backward
// is slower, so it serves only passes that need no gradient (evaluation).
at::Tensor MaxPool2x2NoGrad(const at::Tensor& h) {
  const int64_t rows = h.size(2) / 2 * 2;
  const int64_t cols = h.size(3) / 2 * 2;
  auto corner = [&](int64_t dr, int64_t dc) {
    return h.slice(2, dr, rows, 2).slice(3, dc, cols, 2);
  };
  return at::maximum(at::maximum(corner(0, 0), corner(0, 1)),
                     at::maximum(corner(1, 0), corner(1, 1)));
}

class SequentialModel final : public TorchModel {
 public:
  SequentialModel(std::string name, std::vector<Layer> layers, InitScheme init)
      : name_(std::move(name)), layers_(std::move(layers)), init_(init) {
    for (const Layer& layer : layers_) {
      sizes_.push_back(layer.weight_numel());
      sizes_.push_back(layer.out);
      num_params_ += layer.weight_numel() + layer.out;
      flops_ += layer.flops;
    }
  }

  std::string name() const override { return name_; }
  int64_t num_params() const override { return num_params_; }
  double forward_flops_per_sample() const override { return flops_; }

  // See InitScheme. A conv layer's fan_out is out * kernel^2, as in
  // torch.nn.init._calculate_fan_in_and_fan_out.
  void Initialize(std::span<float> params, Rng& rng) const override {
    MURMUR_CHECK(static_cast<int64_t>(params.size()) == num_params_);
    float* p = params.data();
    for (const Layer& layer : layers_) {
      const double fan_in = static_cast<double>(layer.fan_in());
      const double fan_out = static_cast<double>(layer.out * layer.kernel * layer.kernel);
      const bool xavier = init_ == InitScheme::kXavierUniform;
      const double weight_bound =
          xavier ? std::sqrt(6.0 / (fan_in + fan_out)) : 1.0 / std::sqrt(fan_in);
      const double bias_bound = xavier ? 0.0 : 1.0 / std::sqrt(fan_in);
      FillSymmetricUniform(rng, weight_bound, p, layer.weight_numel());
      p += layer.weight_numel();
      if (xavier) {
        std::fill(p, p + layer.out, 0.0f);
      } else {
        FillSymmetricUniform(rng, bias_bound, p, layer.out);
      }
      p += layer.out;
    }
  }

  std::vector<ParamTensor> tensors() const override {
    std::vector<ParamTensor> out;
    int64_t offset = 0;
    for (const Layer& layer : layers_) {
      out.push_back({.offset = offset, .size = layer.weight_numel(), .fan_in = layer.fan_in()});
      offset += layer.weight_numel();
      out.push_back({.offset = offset, .size = layer.out, .fan_in = layer.fan_in()});
      offset += layer.out;
    }
    return out;
  }

  at::Tensor Forward(const at::Tensor& flat_params,
                     const at::Tensor& x) const override {
    MURMUR_CHECK(flat_params.dim() == 1 &&
                 flat_params.size(0) == num_params_);
    const bool needs_grad =
        flat_params.requires_grad() && at::GradMode::is_enabled();
    // split_with_sizes rather than narrow: its backward concatenates the
    // per-layer gradients into one flat tensor instead of summing one
    // zero-padded full-size tensor per view.
    std::vector<at::Tensor> parts = at::split_with_sizes(flat_params, sizes_);
    at::Tensor h = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const Layer& layer = layers_[i];
      const at::Tensor& bias = parts[2 * i + 1];
      if (layer.kind == Layer::Kind::kConv) {
        at::Tensor weight = parts[2 * i].view(
            {layer.out, layer.in, layer.kernel, layer.kernel});
        h = at::conv2d(h, weight, bias, /*stride=*/{1, 1},
                       /*padding=*/{layer.padding, layer.padding});
      } else {
        if (h.dim() != 2) h = h.reshape({h.size(0), -1});
        at::Tensor weight = parts[2 * i].view({layer.out, layer.in});
        h = at::linear(h, weight, bias);
      }
      // ReLU is monotonic, so relu(maxpool(h)) == maxpool(relu(h)) in value
      // and gradient; pooling first runs the ReLU on a quarter of the data.
      if (layer.max_pool2) {
        h = needs_grad ? at::max_pool2d(h, /*kernel_size=*/{2, 2})
                       : MaxPool2x2NoGrad(h);
      }
      if (layer.relu) h = at::relu(h);
    }
    return h;
  }

  // A single linear layer (the logistic regression): the ops the engine
  // runs for at::linear (addmm of the bias, x and weight.t()) and
  // cross_entropy_loss (_log_softmax, nll_loss), and backward through their
  // derivatives (PyTorch's derivatives.yaml and FunctionsManual.cpp):
  // nll_loss_backward of a ones_like root gradient, _log_softmax_backward_data,
  // addmm's bias gradient summed over the batch (the engine's sum_to of a
  // broadcast input), its weight.t() gradient as mm_mat2_backward forms it
  // for a column-major mat2 (grad.t().mm(x), transposed back by t()'s
  // backward), laid out weight then bias as split_with_sizes' backward
  // concatenates them.
  bool LossAndGradient(const at::Tensor& flat_params, const at::Tensor& x, const at::Tensor& y,
                       at::Tensor* loss, at::Tensor* grad) const override {
    if (layers_.size() != 1 || layers_[0].kind != Layer::Kind::kLinear || layers_[0].relu ||
        !device().is_cpu() || x.dim() < 2) {
      return false;
    }
    MURMUR_CHECK(flat_params.dim() == 1 && flat_params.size(0) == num_params_ &&
                 flat_params.is_contiguous());
    at::NoGradGuard no_grad;
    const Layer& layer = layers_[0];
    const int64_t weights = layer.weight_numel();
    // Plain tensors over the buffer: the values and strides the engine's
    // views would have, without their autograd bookkeeping.
    float* base = flat_params.data_ptr<float>();
    const at::Tensor weight = at::from_blob(base, {layer.out, layer.in}, at::kFloat);
    const at::Tensor bias = at::from_blob(base + weights, {layer.out}, at::kFloat);
    const at::Tensor h = x.dim() != 2 ? x.reshape({x.size(0), -1}) : x;
    const at::Tensor logits = at::addmm(bias, h, weight.t());
    const at::Tensor log_p = at::_log_softmax(logits, 1, /*half_to_float=*/false);
    constexpr int64_t kIgnoreIndex = -100;  // cross_entropy_loss's default
    auto [mean_loss, total_weight] =
        at::nll_loss_forward(log_p, y, {}, at::Reduction::Mean, kIgnoreIndex);
    at::Tensor d_log_p =
        at::nll_loss_backward(at::ones_like(mean_loss, at::MemoryFormat::Contiguous), log_p, y,
                              {}, at::Reduction::Mean, kIgnoreIndex, total_weight);
    const at::Tensor d_logits =
        at::_log_softmax_backward_data(d_log_p, log_p, 1, logits.scalar_type());
    // Written in place of the concatenation: the same contiguous layouts
    // the functional mm and sum would allocate, so the same kernels run.
    *grad = at::empty({num_params_}, at::kFloat);
    at::Tensor d_weight = grad->narrow(0, 0, weights).view({layer.out, layer.in});
    at::mm_out(d_weight, d_logits.t(), h);
    at::Tensor d_bias = grad->narrow(0, weights, layer.out).view({1, layer.out});
    at::sum_out(d_bias, d_logits, {0}, /*keepdim=*/true);
    *loss = std::move(mean_loss);
    return true;
  }

  // Forward's graph on detached parameters, with a zero "probe" added to
  // every layer's output z: the backward pass of the summed per-sample
  // losses then stops at the probes, whose gradients are dL/dz, and each
  // layer's per-sample gradient is formed from them and the layer's input
  // (per_sample_grad.h). Exact because no layer mixes samples.
  bool PerSampleGradients(const at::Tensor& flat_params, const at::Tensor& x,
                          const at::Tensor& y, std::vector<PerSampleLayerGrad>* layers,
                          at::Tensor* losses) const override {
    MURMUR_CHECK(flat_params.dim() == 1 && flat_params.size(0) == num_params_);
    at::AutoGradMode grad_mode(true);
    std::vector<at::Tensor> parts = at::split_with_sizes(flat_params.detach(), sizes_);
    std::vector<at::Tensor> inputs;
    std::vector<at::Tensor> probes;
    at::Tensor h = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const Layer& layer = layers_[i];
      at::Tensor z;
      if (layer.kind == Layer::Kind::kConv) {
        inputs.push_back(h.detach());
        z = at::conv2d(h, parts[2 * i].view({layer.out, layer.in, layer.kernel, layer.kernel}),
                       parts[2 * i + 1], /*stride=*/{1, 1}, {layer.padding, layer.padding});
      } else {
        if (h.dim() != 2) h = h.reshape({h.size(0), -1});
        inputs.push_back(h.detach());
        z = at::linear(h, parts[2 * i].view({layer.out, layer.in}), parts[2 * i + 1]);
      }
      probes.push_back(at::zeros_like(z).requires_grad_(true));
      h = z + probes.back();
      if (layer.max_pool2) h = at::max_pool2d(h, /*kernel_size=*/{2, 2});
      if (layer.relu) h = at::relu(h);
    }
    *losses = BackwardPerSampleLosses(h, y);
    at::NoGradGuard no_grad;
    layers->clear();
    int64_t offset = 0;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const Layer& layer = layers_[i];
      const at::Tensor delta = probes[i].grad();
      layers->push_back(layer.kind == Layer::Kind::kConv
                            ? ConvLayerGrad(offset, inputs[i], delta, layer.kernel, layer.padding)
                            : LinearLayerGrad(offset, inputs[i], delta));
      offset += layer.weight_numel() + layer.out;
    }
    return true;
  }

 private:
  std::string name_;
  std::vector<Layer> layers_;
  InitScheme init_;
  std::vector<int64_t> sizes_;
  int64_t num_params_ = 0;
  double flops_ = 0;
};

Layer Linear(int64_t in, int64_t out, Activation activation) {
  Layer layer{.kind = Layer::Kind::kLinear, .in = in, .out = out};
  layer.relu = activation == Activation::kRelu;
  layer.flops = 2.0 * static_cast<double>(in) * static_cast<double>(out);
  return layer;
}

// A stride-1 conv with ReLU and 2x2 max pooling; updates (height, width) to
// the pooled output size.
Layer ConvReluPool(int64_t in, int64_t out, int64_t kernel, int64_t padding,
                   int64_t& height, int64_t& width) {
  Layer layer{.kind = Layer::Kind::kConv,
              .in = in,
              .out = out,
              .kernel = kernel,
              .padding = padding};
  layer.relu = true;
  layer.max_pool2 = true;
  const int64_t conv_h = height + 2 * padding - kernel + 1;
  const int64_t conv_w = width + 2 * padding - kernel + 1;
  layer.flops = 2.0 * static_cast<double>(layer.fan_in()) *
                static_cast<double>(out) * static_cast<double>(conv_h) *
                static_cast<double>(conv_w);
  height = conv_h / 2;
  width = conv_w / 2;
  return layer;
}

}  // namespace

OutputLayer OutputLayerOf(const Model& model) {
  const std::vector<ParamTensor> tensors = model.tensors();
  MURMUR_CHECK(tensors.size() >= 2);
  const ParamTensor& weight = tensors[tensors.size() - 2];
  const ParamTensor& bias = tensors.back();
  MURMUR_CHECK(weight.size == bias.size * bias.fan_in && weight.fan_in == bias.fan_in);
  MURMUR_CHECK(bias.offset + bias.size == model.num_params());
  return OutputLayer{.offset = weight.offset, .classes = bias.size, .fan_in = bias.fan_in};
}

const TorchModel& AsTorchModel(const Model& model) {
  const auto* torch_model = dynamic_cast<const TorchModel*>(&model);
  MURMUR_CHECK(torch_model != nullptr);
  return *torch_model;
}

namespace {

Result<std::unique_ptr<Model>> MakeModelOnHost(const ModelConfig& config,
                                               const InputShape& input) {
  if (input.channels < 1 || input.height < 1 || input.width < 1 ||
      input.num_classes < 1) {
    return Status::InvalidArgument(
        "model: input shape ", input.channels, "x", input.height, "x",
        input.width, " with ", input.num_classes,
        " classes must be positive in every dimension");
  }
  const int64_t features = input.channels * input.height * input.width;
  std::vector<Layer> layers;
  std::string name;
  switch (config.kind) {
    case ModelKind::kLogisticRegression:
      name = "logreg";
      layers.push_back(Linear(features, input.num_classes, Activation::kNone));
      break;
    case ModelKind::kMlp: {
      if (config.hidden.empty()) {
        return Status::InvalidArgument(
            "model: an MLP needs at least one hidden layer (model.hidden is "
            "empty); use the logistic regression model for none");
      }
      name = "mlp";
      int64_t in = features;
      for (size_t i = 0; i < config.hidden.size(); ++i) {
        int64_t width = config.hidden[i];
        if (width < 1) {
          return Status::InvalidArgument("model: MLP hidden layer ", i,
                                         " has width ", width,
                                         ", must be at least 1");
        }
        name.append("-").append(std::to_string(width));
        layers.push_back(Linear(in, width, Activation::kRelu));
        in = width;
      }
      layers.push_back(Linear(in, input.num_classes, Activation::kNone));
      break;
    }
    case ModelKind::kCnn: {
      // conv5x5 (padding 2) keeps the size, pool halves it, conv5x5 takes 4,
      // pool halves again: at least 1x1 is left only from 12x12 up.
      constexpr int64_t kMinSide = 12;
      if (input.height < kMinSide || input.width < kMinSide) {
        return Status::InvalidArgument(
            "model: input ", input.height, "x", input.width,
            " is too small for the LeNet-5 CNN, which needs at least ",
            kMinSide, "x", kMinSide);
      }
      name = "lenet5";
      int64_t h = input.height;
      int64_t w = input.width;
      layers.push_back(ConvReluPool(input.channels, 6, 5, 2, h, w));
      layers.push_back(ConvReluPool(6, 16, 5, 0, h, w));
      layers.push_back(Linear(16 * h * w, 120, Activation::kRelu));
      layers.push_back(Linear(120, 84, Activation::kRelu));
      layers.push_back(Linear(84, input.num_classes, Activation::kNone));
      break;
    }
    case ModelKind::kCharMlp:
      return MakeCharMlp(config, input);
    case ModelKind::kTorchScript:
      return MakeTorchScriptModel(config, input);
    case ModelKind::kTransformer:
      return MakeTransformer(config, input);
    case ModelKind::kResNet:
      return MakeResNet(config, input);
    default:
      return Status::InvalidArgument("model: unknown kind ",
                                     static_cast<int>(config.kind));
  }
  return std::unique_ptr<Model>(
      std::make_unique<SequentialModel>(std::move(name), std::move(layers), config.init));
}

}  // namespace

Result<std::unique_ptr<Model>> MakeModel(const ModelConfig& config, const InputShape& input) {
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, MakeModelOnHost(config, input));
  if (config.device == ComputeDevice::kCuda) {
    auto* torch_model = dynamic_cast<TorchModel*>(model.get());
    MURMUR_CHECK(torch_model != nullptr);
    torch_model->MoveTo(at::Device(at::kCUDA));
  }
  return model;
}

}  // namespace murmur
