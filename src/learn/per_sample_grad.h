// Private to learn/: per-sample gradients of linear and convolution layers
// from each layer's input and the gradient of the loss with respect to its
// output, as in Goodfellow 2015, "Efficient Per-Example Gradient
// Computations" (arXiv:1510.01799), the trick Opacus uses too. For a layer
// z = W a + b and a loss that is a sum of per-sample terms, sample i's
// gradient is dL_i/dW = delta_i a_i^T and dL_i/db = delta_i, delta_i =
// dL/dz_i: one backward pass for the batch yields every delta_i. A linear
// layer's per-sample gradients are never formed: ||delta_i a_i^T||^2 =
// ||delta_i||^2 ||a_i||^2, and the clipped sum sum_i s_i delta_i a_i^T is
// one matrix product (s . delta)^T a. A convolution is a linear layer
// applied at every output position to the unfolded input patch (im2col);
// its per-sample gradients (small: a kernel's weights) are formed by a
// batched product over the positions.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

namespace murmur {

// One layer's per-sample gradients over n samples, for parameters laid out
// as the weight ([out, in] or [out, in, k, k], row-major) then the bias.
struct PerSampleLayerGrad {
  int64_t offset = 0;  // of the weight in the flat parameter vector
  int64_t weight_numel = 0;
  int64_t bias_numel = 0;
  // Linear: input [n, in] and delta [n, out]. Convolution: `full`.
  at::Tensor input;
  at::Tensor delta;
  at::Tensor full;  // [n, weight_numel + bias_numel]
};

// Each sample's cross-entropy of `logits` against `y`, its sum
// backpropagated (so the zero probes added to the layers' outputs get the
// deltas); returns the [n] losses, detached.
at::Tensor BackwardPerSampleLosses(const at::Tensor& logits, const at::Tensor& y);

PerSampleLayerGrad LinearLayerGrad(int64_t offset, const at::Tensor& input,
                                   const at::Tensor& delta);
// A stride-1, dilation-1 convolution with a k x k kernel and `padding`:
// input [n, in, H, W], delta [n, out, H', W'].
PerSampleLayerGrad ConvLayerGrad(int64_t offset, const at::Tensor& input,
                                 const at::Tensor& delta, int64_t kernel, int64_t padding);

// [n] (double): each sample's squared gradient norm over the parameters in
// [lo, hi), summed over `layers`.
at::Tensor PerSampleSquaredNorms(const std::vector<PerSampleLayerGrad>& layers, int64_t lo,
                                 int64_t hi);

// sum_i scales[i] g_i over [lo, hi), into sum[lo, hi) (sum is a host buffer
// of num_params floats; +=). scales: [n] float on the layers' device; rows
// to leave out must be removed first (Select), not scaled by 0 (0 * NaN).
void AddScaledSum(const std::vector<PerSampleLayerGrad>& layers, const at::Tensor& scales,
                  int64_t lo, int64_t hi, float* sum);

// The layers restricted to the samples `rows` ([k] long).
std::vector<PerSampleLayerGrad> Select(const std::vector<PerSampleLayerGrad>& layers,
                                       const at::Tensor& rows);

// [n, P]: every sample's gradient, materialized (P = the parameters the
// layers cover, in order). For tests.
at::Tensor MaterializePerSampleGrads(const std::vector<PerSampleLayerGrad>& layers);

}  // namespace murmur
