// Private to learn/: the ATen side of Model. Kept out of the public headers so
// that only the few learn/ files that need LibTorch pay for its headers.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "learn/per_sample_grad.h"
#include "murmur/learn/model.h"

namespace murmur {

// A Model whose forward pass is a functional ATen graph over views of one
// flat parameter tensor: no per-peer modules, no parameter copies. Immutable
// and thread-safe, like Model.
class TorchModel : public Model {
 public:
  // Returns logits [batch, num_classes] for `x` [batch, C, H, W] (float).
  // Differentiable with respect to `flat_params` when it requires grad; the
  // gradient then arrives as one contiguous tensor of num_params() floats.
  // REQUIRES: flat_params is a contiguous 1-D float tensor of num_params().
  virtual at::Tensor Forward(const at::Tensor& flat_params,
                             const at::Tensor& x) const = 0;

  // The class index of each row of Forward(_, x): the sample labels [batch]
  // for a model with one prediction per sample. A sequence model that
  // predicts at every position (the transformer) returns [batch * positions]
  // targets derived from the inputs and the labels, so training, Evaluate
  // and EvaluatePerClass score every position.
  virtual at::Tensor Targets(const at::Tensor& x, const at::Tensor& labels) const {
    (void)x;
    return labels;
  }

  // The mean cross-entropy of Forward(flat_params, x) against y and its
  // gradient with respect to flat_params ([num_params] floats, contiguous),
  // computed without the autograd engine by the kernels a backward pass
  // would run on the same tensors, so both are bit for bit those of
  // at::cross_entropy_loss(Forward(p, x), y).backward() (Learner::Train's
  // fast path; the engine's bookkeeping outweighs a small model's
  // arithmetic). Returns false where the model has no such path; then
  // nothing is written.
  virtual bool LossAndGradient(const at::Tensor& flat_params, const at::Tensor& x,
                               const at::Tensor& y, at::Tensor* loss, at::Tensor* grad) const {
    (void)flat_params;
    (void)x;
    (void)y;
    (void)loss;
    (void)grad;
    return false;
  }

  // Per-sample gradients, vectorized (DP-SGD's fast path, learn/dp_sgd.h):
  // the gradient at `flat_params` of each row's cross-entropy against y,
  // one PerSampleLayerGrad per layer in parameter order (they cover every
  // parameter), from one forward and one backward pass for the whole batch;
  // `*losses` gets the [batch] per-sample losses. Returns false where the
  // model has no such path (the caller then differentiates one sample at a
  // time). `flat_params`' grad is not touched.
  virtual bool PerSampleGradients(const at::Tensor& flat_params, const at::Tensor& x,
                                  const at::Tensor& y, std::vector<PerSampleLayerGrad>* layers,
                                  at::Tensor* losses) const {
    (void)flat_params;
    (void)x;
    (void)y;
    (void)layers;
    (void)losses;
    return false;
  }

  // Where Forward's flat_params and x must live (ModelConfig::device).
  at::Device device() const { return device_; }
  // Sets device() and moves what the model itself holds there (a
  // TorchScript module's buffers). MakeModel calls it once, before the model
  // is shared; not thread-safe.
  virtual void MoveTo(at::Device device) { device_ = device; }

 private:
  at::Device device_ = at::Device(at::kCPU);
};

// The TorchModel behind every Model that MakeModel returns.
// REQUIRES: `model` came from MakeModel.
const TorchModel& AsTorchModel(const Model& model);

}  // namespace murmur
