// Model architectures over a flat parameter buffer. A Model is stateless: it
// describes the layers and computes a forward pass from a flat parameter
// vector, so thousands of peers share one Model and each owns only its own
// contiguous float buffer (layer tensors are views into it).
//  * Logistic regression (multinomial, softmax).
//  * MLP with ReLU hidden layers.
//  * LeNet-5-style CNN (LeCun, Bottou, Bengio, Haffner, 1998,
//    "Gradient-based learning applied to document recognition"):
//    conv5x5(6)-relu-maxpool2, conv5x5(16)-relu-maxpool2, fc120, fc84, fc.
//  * Character-level MLP language model over a context window (Bengio,
//    Ducharme, Vincent, Jauvin, 2003, "A Neural Probabilistic Language
//    Model"): embed each of the `width` context characters, concatenate,
//    ReLU hidden layers, logits over the next character. Its input is a
//    1 x 1 x context sample of character ids (learn/text_dataset.h).
//  * Any PyTorch model saved as TorchScript (model.kind = "torchscript"):
//    its parameters are the flat buffer, initialized from the file; see
//    src/learn/torchscript_model.h.
//  * Decoder-only transformer language model (model.kind = "transformer"):
//    see src/learn/transformer_model.h.
//  * The CIFAR ResNet family with group normalization (model.kind =
//    "resnet"): He, Zhang, Ren, Sun, 2016, "Deep Residual Learning for Image
//    Recognition", with Wu, He, 2018, "Group Normalization"; see
//    src/learn/resnet_model.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"

namespace murmur {

enum class ModelKind {
  kLogisticRegression, kMlp, kCnn, kCharMlp, kTorchScript, kTransformer, kResNet
};

// Weight initialisation of the feed-forward models (logreg, MLP, CNN).
//  * kKaimingUniform: PyTorch's default for nn.Linear / nn.Conv2d
//    (kaiming_uniform_ with a = sqrt(5)): weights and biases
//    U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
//  * kXavierUniform: Glorot, Bengio, 2010, "Understanding the difficulty of
//    training deep feedforward neural networks": weights
//    U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), biases 0.
enum class InitScheme { kKaimingUniform, kXavierUniform };

// model.kind = "transformer": a pre-norm decoder (src/learn/transformer_model.h).
struct TransformerConfig {
  enum class Positions { kLearned, kSinusoidal };
  enum class Embeddings { kTied, kSeparate };  // output head = input embedding?
  int64_t layers = 2;
  int64_t width = 64;    // d_model
  int64_t heads = 4;     // width % heads == 0
  int64_t context = 64;  // tokens per sample; the text dataset's window
  int64_t ffn_mult = 4;  // feed-forward hidden width = ffn_mult * width
  Positions positions = Positions::kLearned;
  Embeddings embeddings = Embeddings::kTied;
};

// Where a model's forward and backward passes run (train.device). The flat
// parameter buffers protocols exchange stay in host memory either way.
enum class ComputeDevice { kCpu, kCuda };

// "cpu", "cuda" or "auto" (CUDA when torch::cuda::is_available(), else CPU)
// as a device. kInvalidArgument for another name, or "cuda" when no CUDA
// device is visible.
Result<ComputeDevice> ResolveComputeDevice(const std::string& choice);

// "cpu" or "cuda".
const char* ComputeDeviceName(ComputeDevice device);

// model.kind = "resnet" (src/learn/resnet_model.h).
struct ResNetOptions {
  int64_t depth = 20;   // 6n + 2 weight layers, n >= 1
  double width = 1.0;   // multiplies the 16/32/64 stage channels
  int64_t groups = 2;   // group norm groups; must divide 16 x width
};

struct ModelConfig {
  ModelKind kind = ModelKind::kMlp;
  InitScheme init = InitScheme::kKaimingUniform;  // feed-forward models only
  std::vector<int64_t> hidden = {128};  // MLP hidden layer widths
  int64_t embedding_dim = 16;           // char MLP: per-character embedding
  std::string path;                     // kTorchScript: the torch.jit.save file
  TransformerConfig transformer;        // kTransformer only
  ComputeDevice device = ComputeDevice::kCpu;
  ResNetOptions resnet;                 // kResNet
};

struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t num_classes = 10;
};

// One parameter tensor (a layer's weight or bias) inside the flat buffer.
struct ParamTensor {
  int64_t offset = 0;
  int64_t size = 0;
  int64_t fan_in = 0;  // inputs per output unit of its layer
};

// Immutable and thread-safe: one instance serves every peer.
class Model {
 public:
  virtual ~Model() = default;
  virtual std::string name() const = 0;
  // What fixes the flat layout besides the tensor sizes, for checkpoints to
  // tell architectures apart: name() unless the name carries more (a
  // TorchScript model's names its file, which does not matter).
  virtual std::string architecture() const { return name(); }
  virtual int64_t num_params() const = 0;
  // Multiply-adds x2 of one sample's forward pass.
  virtual double forward_flops_per_sample() const = 0;
  // Random init by the model's InitScheme (default: PyTorch-style
  // Kaiming-uniform) drawn from `rng`, so it is reproducible from a seed.
  // REQUIRES: params.size() == num_params().
  virtual void Initialize(std::span<float> params, Rng& rng) const = 0;
  // The parameter tensors in buffer order; they tile [0, num_params()).
  virtual std::vector<ParamTensor> tensors() const = 0;
};

// Writes `params` into the TorchScript module behind `model`
// (model.kind = "torchscript") and saves it to `path` with torch.jit.save's
// format, so torch.jit.load in Python gets the trained model. kInvalidArgument
// when `model` is not a TorchScript model; kUnavailable when `path` cannot
// be written. REQUIRES: params.size() == model.num_params().
Status ExportTorchScript(const Model& model, std::span<const float> params,
                         const std::string& path);

// The output layer (last fully-connected layer) of a Model: its weight
// [classes, fan_in] row-major followed by its bias [classes], the last two
// tensors and so the tail [offset, offset + size()) of the flat buffer. Row c
// of the weight and bias c are class c's parameters.
struct OutputLayer {
  int64_t offset = 0;
  int64_t classes = 0;
  int64_t fan_in = 0;
  int64_t size() const { return classes * (fan_in + 1); }
};

// The output layer of every model MakeModel builds (all end in a linear
// layer). REQUIRES: model.tensors() ends with a weight and its bias.
OutputLayer OutputLayerOf(const Model& model);

// kInvalidArgument for an empty or non-positive hidden layer, or an input
// too small for the CNN.
Result<std::unique_ptr<Model>> MakeModel(const ModelConfig& config,
                                         const InputShape& input);

}  // namespace murmur
