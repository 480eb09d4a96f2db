#include "learn/torchscript_model.h"

#include <torch/script.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "learn/torch_model.h"

namespace murmur {
namespace {

// The first line of a LibTorch error (the rest is a C++ backtrace).
std::string FirstLine(const std::exception& e) {
  std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

struct NamedParam {
  std::vector<std::string> path;  // submodule names, then the parameter's
  std::vector<int64_t> shape;
  int64_t numel = 0;
};

// The flat buffer is the module's parameters (named_parameters order, each
// row-major), and nothing else: buffers such as batch-norm statistics keep
// their saved values, are not exchanged, and the module runs in eval mode
// (dropout off, batch norm on its saved statistics). Forward points a copy
// of the module's parameter slots at views of the flat buffer, so autograd
// reaches the buffer; copies are pooled because a Model is shared by
// threads and a module's slots are not.
class TorchScriptModel final : public TorchModel {
 public:
  TorchScriptModel(std::string path, torch::jit::Module module, std::vector<NamedParam> params,
                   std::vector<float> initial)
      : path_(std::move(path)),
        module_(std::move(module)),
        params_(std::move(params)),
        initial_(std::move(initial)) {
    for (const NamedParam& p : params_) sizes_.push_back(p.numel);
  }

  std::string name() const override {
    return "torchscript:" + std::filesystem::path(path_).filename().string();
  }
  int64_t num_params() const override { return static_cast<int64_t>(initial_.size()); }
  // Unknown for an arbitrary graph: 2 per parameter, exact for linear layers.
  double forward_flops_per_sample() const override { return 2.0 * num_params(); }

  // The saved parameters: every peer starts from the file (rng unused).
  void Initialize(std::span<float> params, Rng& rng) const override {
    MURMUR_CHECK(params.size() == initial_.size());
    std::copy(initial_.begin(), initial_.end(), params.begin());
  }

  std::vector<ParamTensor> tensors() const override {
    std::vector<ParamTensor> out;
    int64_t offset = 0;
    for (const NamedParam& p : params_) {
      // A weight's fan-in is its elements per output unit; a bias takes
      // the fan-in of the weight before it.
      int64_t fan_in = p.shape.size() >= 2 ? p.numel / p.shape[0] : 1;
      if (p.shape.size() == 1 && !out.empty()) fan_in = out.back().fan_in;
      out.push_back({.offset = offset, .size = p.numel, .fan_in = fan_in});
      offset += p.numel;
    }
    return out;
  }

  // A copy of the module holding `params` (copied, not views), saved.
  Status Export(std::span<const float> params, const std::string& path) const {
    MURMUR_CHECK(static_cast<int64_t>(params.size()) == num_params());
    torch::jit::Module m = module_.clone();
    m.to(at::Device(at::kCPU));  // a file that loads without a GPU
    int64_t offset = 0;
    for (const NamedParam& p : params_) {
      at::Tensor value = at::from_blob(const_cast<float*>(params.data()) + offset, {p.numel},
                                       at::kFloat)
                             .clone()
                             .view(p.shape);
      SlotOwner(m, p).setattr(p.path.back(), value);
      offset += p.numel;
    }
    try {
      m.save(path);
    } catch (const std::exception& e) {
      return Status::Unavailable("cannot write the TorchScript model to '", path,
                                 "': ", FirstLine(e));
    }
    return Status::Ok();
  }

  // Buffers (batch-norm statistics) go with the module; parameters are the
  // flat buffer's views on the device.
  void MoveTo(at::Device device) override {
    TorchModel::MoveTo(device);
    module_.to(device);
  }

  // Not the file's name: the layout is the parameters' shapes.
  std::string architecture() const override { return "torchscript"; }

  at::Tensor Forward(const at::Tensor& flat_params, const at::Tensor& x) const override {
    MURMUR_CHECK(flat_params.dim() == 1 && flat_params.size(0) == num_params());
    torch::jit::Module m = Acquire();
    std::vector<at::Tensor> parts = at::split_with_sizes(flat_params, sizes_);
    for (size_t i = 0; i < params_.size(); ++i) {
      SlotOwner(m, params_[i]).setattr(params_[i].path.back(), parts[i].view(params_[i].shape));
    }
    at::Tensor out = m.forward({x}).toTensor();
    Release(std::move(m));
    return out;
  }

 private:
  static torch::jit::Module SlotOwner(torch::jit::Module m, const NamedParam& p) {
    for (size_t i = 0; i + 1 < p.path.size(); ++i) m = m.attr(p.path[i]).toModule();
    return m;
  }

  torch::jit::Module Acquire() const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pool_.empty()) {
        torch::jit::Module m = std::move(pool_.back());
        pool_.pop_back();
        return m;
      }
    }
    // Under a lock of its own: Module::clone registers the copy's class
    // types in the compilation unit the module shares, which is not
    // thread-safe (concurrent clones corrupted the heap now and then:
    // "unaligned tcache chunk" in ThreadsShareOneModelAndGetTheSameAnswers).
    std::lock_guard<std::mutex> lock(clone_mu_);
    return module_.clone();
  }

  void Release(torch::jit::Module m) const {
    std::lock_guard<std::mutex> lock(mu_);
    pool_.push_back(std::move(m));
  }

  const std::string path_;
  torch::jit::Module module_;  // written only by MoveTo, before sharing
  const std::vector<NamedParam> params_;
  const std::vector<float> initial_;
  std::vector<int64_t> sizes_;
  mutable std::mutex mu_;
  mutable std::vector<torch::jit::Module> pool_;
  mutable std::mutex clone_mu_;
};

std::vector<std::string> SplitDots(const std::string& name) {
  std::vector<std::string> out(1);
  for (char c : name) {
    if (c == '.') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

// Runs forward on a zero batch of 2 and checks [2, num_classes] comes out.
Status CheckForward(const torch::jit::Module& module, const std::string& path,
                    const InputShape& input) {
  torch::NoGradGuard no_grad;
  at::Tensor out;
  try {
    out = module.clone().forward({at::zeros({2, input.channels, input.height, input.width})})
              .toTensor();
  } catch (const std::exception& e) {
    return Status::InvalidArgument("model.path '", path, "': forward fails on a 2x",
                                   input.channels, "x", input.height, "x", input.width,
                                   " float batch (the dataset's samples): ", FirstLine(e));
  }
  if (out.dim() != 2 || out.size(0) != 2 || out.size(1) != input.num_classes) {
    return Status::InvalidArgument("model.path '", path, "': forward maps a 2x", input.channels,
                                   "x", input.height, "x", input.width, " batch to shape ",
                                   out.sizes(), ", not [2, ", input.num_classes,
                                   "] logits for the dataset's ", input.num_classes, " classes");
  }
  return Status::Ok();
}

}  // namespace

Status ExportTorchScript(const Model& model, std::span<const float> params,
                         const std::string& path) {
  const auto* script = dynamic_cast<const TorchScriptModel*>(&model);
  if (script == nullptr) {
    return Status::InvalidArgument("exporting a TorchScript file needs model.kind = "
                                   "\"torchscript\", not the built-in '", model.name(), "'");
  }
  return script->Export(params, path);
}

Result<std::unique_ptr<Model>> MakeTorchScriptModel(const ModelConfig& config,
                                                   const InputShape& input) {
  const std::string& path = config.path;
  std::error_code ec;
  if (path.empty()) {
    return Status::InvalidArgument(
        "model.kind = \"torchscript\" needs model.path: a file saved by torch.jit.save");
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("model.path '", path, "' not found (a TorchScript file saved by "
                            "torch.jit.save(torch.jit.script(model), path))");
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, c10::Device(c10::kCPU));
  } catch (const std::exception& e) {
    return Status::InvalidArgument("model.path '", path,
                                   "' is not a TorchScript file (save one with "
                                   "torch.jit.save(torch.jit.script(model), path)): ",
                                   FirstLine(e));
  }
  module.eval();
  std::vector<NamedParam> params;
  std::vector<float> initial;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    at::Tensor value = p.value.detach().to(at::kFloat).contiguous();
    params.push_back({SplitDots(p.name), value.sizes().vec(), value.numel()});
    initial.insert(initial.end(), value.data_ptr<float>(), value.data_ptr<float>() + value.numel());
  }
  const size_t n = params.size();
  if (n < 2 || params[n - 1].shape.size() != 1 || params[n - 2].shape.size() != 2 ||
      params[n - 1].shape[0] != params[n - 2].shape[0] ||
      params[n - 1].shape[0] != input.num_classes) {
    return Status::InvalidArgument(
        "model.path '", path, "': the last two parameters must be the output layer's weight [",
        input.num_classes, ", features] and bias [", input.num_classes,
        "] (an nn.Linear head over the dataset's classes), which protocols that exchange only "
        "the output layer rely on");
  }
  MURMUR_RETURN_IF_ERROR(CheckForward(module, path, input));
  return std::unique_ptr<Model>(std::make_unique<TorchScriptModel>(
      path, std::move(module), std::move(params), std::move(initial)));
}

}  // namespace murmur
