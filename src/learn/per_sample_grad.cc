#include "learn/per_sample_grad.h"

#include <algorithm>

#include "murmur/core/check.h"

namespace murmur {

at::Tensor BackwardPerSampleLosses(const at::Tensor& logits, const at::Tensor& y) {
  at::Tensor loss = at::cross_entropy_loss(logits, y, {}, at::Reduction::None);
  loss.sum().backward();
  return loss.detach();
}

PerSampleLayerGrad LinearLayerGrad(int64_t offset, const at::Tensor& input,
                                   const at::Tensor& delta) {
  return {.offset = offset,
          .weight_numel = input.size(1) * delta.size(1),
          .bias_numel = delta.size(1),
          .input = input,
          .delta = delta};
}

PerSampleLayerGrad ConvLayerGrad(int64_t offset, const at::Tensor& input,
                                 const at::Tensor& delta, int64_t kernel, int64_t padding) {
  const int64_t n = input.size(0);
  // [n, in * k * k, positions], channel-major like the weight's [in, k, k].
  at::Tensor patches = at::im2col(input, {kernel, kernel}, /*dilation=*/{1, 1},
                                  {padding, padding}, /*stride=*/{1, 1});
  at::Tensor d = delta.reshape({n, delta.size(1), -1});     // [n, out, positions]
  at::Tensor weight = at::bmm(d, patches.transpose(1, 2));  // [n, out, in * k * k]
  return {.offset = offset,
          .weight_numel = weight.size(1) * weight.size(2),
          .bias_numel = delta.size(1),
          .full = at::cat({weight.reshape({n, -1}), d.sum(2)}, 1)};
}

namespace {

int64_t Rows(const PerSampleLayerGrad& layer) {
  return layer.full.defined() ? layer.full.size(0) : layer.input.size(0);
}

at::Tensor Full(const PerSampleLayerGrad& layer) {
  if (layer.full.defined()) return layer.full;
  const int64_t n = layer.input.size(0);
  at::Tensor weight = layer.delta.unsqueeze(2) * layer.input.unsqueeze(1);  // outer products
  return at::cat({weight.reshape({n, -1}), layer.delta}, 1);
}

// Where [lo, hi) meets the layer's parameters [offset, offset + numel):
// the local range [begin, end), empty when begin >= end.
std::pair<int64_t, int64_t> Overlap(const PerSampleLayerGrad& layer, int64_t lo, int64_t hi) {
  const int64_t numel = layer.weight_numel + layer.bias_numel;
  return {std::max<int64_t>(lo - layer.offset, 0), std::min<int64_t>(hi - layer.offset, numel)};
}

// The factored form applies when the range covers the whole weight and the
// whole bias; any other overlap materializes the layer.
bool Factored(const PerSampleLayerGrad& layer, int64_t begin, int64_t end) {
  return !layer.full.defined() && begin == 0 && end == layer.weight_numel + layer.bias_numel;
}

}  // namespace

at::Tensor PerSampleSquaredNorms(const std::vector<PerSampleLayerGrad>& layers, int64_t lo,
                                 int64_t hi) {
  MURMUR_CHECK(!layers.empty());
  at::Tensor out = at::zeros({Rows(layers[0])}, layers[0].delta.defined()
                                                    ? layers[0].delta.options().dtype(at::kDouble)
                                                    : layers[0].full.options().dtype(at::kDouble));
  for (const PerSampleLayerGrad& layer : layers) {
    const auto [begin, end] = Overlap(layer, lo, hi);
    if (begin >= end) continue;
    if (Factored(layer, begin, end)) {
      const at::Tensor d2 = layer.delta.to(at::kDouble).pow(2).sum(1);
      const at::Tensor a2 = layer.input.to(at::kDouble).pow(2).sum(1);
      out += d2 * a2 + d2;  // ||delta a^T||^2 + ||delta||^2
    } else {
      out += Full(layer).narrow(1, begin, end - begin).to(at::kDouble).pow(2).sum(1);
    }
  }
  return out;
}

void AddScaledSum(const std::vector<PerSampleLayerGrad>& layers, const at::Tensor& scales,
                  int64_t lo, int64_t hi, float* sum) {
  for (const PerSampleLayerGrad& layer : layers) {
    const auto [begin, end] = Overlap(layer, lo, hi);
    if (begin >= end) continue;
    at::Tensor total;
    if (Factored(layer, begin, end)) {
      const at::Tensor scaled = layer.delta * scales.unsqueeze(1);  // [n, out]
      total = at::cat({at::mm(scaled.t(), layer.input).reshape({-1}), scaled.sum(0)});
    } else {
      total = at::matmul(scales, Full(layer).narrow(1, begin, end - begin));
    }
    total = total.cpu().contiguous();
    const float* t = total.data_ptr<float>();
    float* dst = sum + layer.offset + begin;
    for (int64_t k = 0; k < end - begin; ++k) dst[k] += t[k];
  }
}

std::vector<PerSampleLayerGrad> Select(const std::vector<PerSampleLayerGrad>& layers,
                                       const at::Tensor& rows) {
  std::vector<PerSampleLayerGrad> out = layers;
  for (PerSampleLayerGrad& layer : out) {
    if (layer.full.defined()) layer.full = layer.full.index_select(0, rows);
    if (layer.input.defined()) layer.input = layer.input.index_select(0, rows);
    if (layer.delta.defined()) layer.delta = layer.delta.index_select(0, rows);
  }
  return out;
}

at::Tensor MaterializePerSampleGrads(const std::vector<PerSampleLayerGrad>& layers) {
  std::vector<at::Tensor> parts;
  for (const PerSampleLayerGrad& layer : layers) parts.push_back(Full(layer));
  return at::cat(parts, 1);
}

}  // namespace murmur
