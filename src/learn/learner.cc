#include "murmur/learn/learner.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "learn/dp_sgd.h"
#include "learn/torch_model.h"

namespace murmur {
namespace {

constexpr size_t kAlignment = 64;

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

// A zero-filled, cache-line aligned float array (one peer's parameters or
// optimizer state).
AlignedFloats AllocateAligned(int64_t n) {
  size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  auto* p = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
  MURMUR_CHECK(p != nullptr);
  std::memset(p, 0, bytes);
  return AlignedFloats(p);
}

// ATen does not size OpenBLAS's own thread pool; without this every large
// GEMM of every peer would fan out to all cores, contending with the other
// peers' threads.
void SetOpenBlasThreads(int threads) {
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(
          dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    fn(threads);
  }
}

// Every training step allocates and frees gradient tensors of a few hundred
// KB. glibc's defaults hand such blocks back to the kernel (munmap, or a trim
// of the heap top) on free, so each step page-faults them in again: about a
// third of an MLP step. Keeping up to 32 MB of free heap per arena removes it.
void KeepStepBuffersMapped() {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
#endif
}

}  // namespace

void ConfigureTorchThreads(int intra_op_threads) {
  MURMUR_CHECK(intra_op_threads >= 1);
  try {
    at::set_num_threads(intra_op_threads);
  } catch (const std::exception&) {
    // Native backend: refuses once its pool has started; keep what it has.
  }
  static std::once_flag interop_once;
  std::call_once(interop_once, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Throws when inter-op work already started; murmur never uses it.
    }
  });
  SetOpenBlasThreads(intra_op_threads);
  KeepStepBuffersMapped();
}

struct Learner::Impl {
  Impl(const Model& model, const Dataset& train, std::vector<int64_t> shard,
       const OptimizerConfig& optimizer, int64_t batch_size, Rng batch_rng)
      : model(AsTorchModel(model)),
        train(train),
        order(std::move(shard)),
        optimizer(optimizer),
        batch(std::min<int64_t>(batch_size,
                                static_cast<int64_t>(order.size()))),
        batch_rng(batch_rng),
        num_params(model.num_params()),
        params(AllocateAligned(num_params)) {}

  // Fills x [batch, C, H, W] and y with the next mini-batch and its targets
  // (TorchModel::Targets: the labels [batch], or one per position). Batches
  // never straddle epochs: a tail shorter than a batch is skipped and the
  // shard reshuffled, so every batch is drawn without replacement and every
  // batch has the same size. Over epochs every sample is still used equally
  // often in expectation.
  void NextBatch(at::Tensor& x, at::Tensor& y) {
    if (cursor + batch > static_cast<int64_t>(order.size())) {
      batch_rng.Shuffle(std::span<int64_t>(order));
      cursor = 0;
    }
    const int64_t dim = train.sample_dim();
    x = at::empty({batch, train.channels, train.height, train.width},
                  at::kFloat);
    y = at::empty({batch}, at::kLong);
    float* xd = x.data_ptr<float>();
    int64_t* yd = y.data_ptr<int64_t>();
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t index = order[cursor + i];
      train.CopySample(index, xd + i * dim);
      yd[i] = train.labels[index];
    }
    cursor += batch;
    y = model.Targets(x, y);
  }

  // SAM's gradient: the gradient on the same batch at w + rho g/||g||; the
  // parameters are restored bit for bit afterwards. A zero gradient has no
  // ascent direction and is returned as is.
  at::Tensor SharpnessAwareGradient(at::Tensor& p, const at::Tensor& x, const at::Tensor& y,
                                    const at::Tensor& grad) {
    const float* g = grad.data_ptr<float>();
    double sq = 0;
    for (int64_t i = lo; i < hi; ++i) sq += static_cast<double>(g[i]) * g[i];
    if (sq == 0) return grad;
    const auto scale = static_cast<float>(optimizer.sam_rho / std::sqrt(sq));
    if (!sam_saved) sam_saved = AllocateAligned(num_params);
    float* w = params.get();
    std::memcpy(sam_saved.get(), w, num_params * sizeof(float));
    for (int64_t i = lo; i < hi; ++i) w[i] += scale * g[i];
    Upload(p);
    p.mutable_grad().reset();
    at::cross_entropy_loss(model.Forward(p, x), y).backward();
    at::Tensor ascent_grad = p.grad().to(at::kCPU).contiguous();
    std::memcpy(w, sam_saved.get(), num_params * sizeof(float));
    Upload(p);
    return ascent_grad;
  }

  // The parameters as the model's device sees them: on the CPU a view of
  // the host buffer itself; on a GPU a copy that Upload refreshes after
  // every write to the host buffer.
  at::Tensor DeviceParams() {
    at::Tensor host = at::from_blob(params.get(), {num_params}, at::kFloat);
    return model.device().is_cpu() ? host : host.to(model.device());
  }

  // Copies the host buffer into `p` from DeviceParams (nothing on the CPU,
  // where p is the buffer).
  void Upload(at::Tensor& p) const {
    if (model.device().is_cpu()) return;
    at::NoGradGuard no_grad;
    p.copy_(at::from_blob(params.get(), {num_params}, at::kFloat));
  }

  // PyTorch's torch.optim.SGD (dampening 0, no Nesterov): d = g + wd*p;
  // buf = d on the first step, else mu*buf + d; p -= lr*buf.
  void SgdStep(const float* grad) {
    const auto lr = static_cast<float>(optimizer.lr);
    const auto wd = static_cast<float>(optimizer.weight_decay);
    const auto mu = static_cast<float>(optimizer.momentum);
    float* p = params.get();
    if (mu == 0.0f) {
      for (int64_t i = lo; i < hi; ++i) {
        p[i] -= lr * (grad[i] + wd * p[i]);
      }
      return;
    }
    if (!state1) state1 = AllocateAligned(num_params);
    float* buf = state1.get();
    if (!state_started) {
      for (int64_t i = lo; i < hi; ++i) {
        buf[i] = grad[i] + wd * p[i];
        p[i] -= lr * buf[i];
      }
      state_started = true;
      return;
    }
    for (int64_t i = lo; i < hi; ++i) {
      buf[i] = mu * buf[i] + (grad[i] + wd * p[i]);
      p[i] -= lr * buf[i];
    }
  }

  // PyTorch's torch.optim.Adam (amsgrad off) with L2 decay in the gradient.
  void AdamStep(const float* grad) {
    if (!state1) state1 = AllocateAligned(num_params);
    if (!state2) state2 = AllocateAligned(num_params);
    if (!state_started) {
      std::memset(state1.get(), 0, num_params * sizeof(float));
      std::memset(state2.get(), 0, num_params * sizeof(float));
      adam_step = 0;
      state_started = true;
    }
    ++adam_step;
    const double bias1 = 1.0 - std::pow(optimizer.beta1, adam_step);
    const double bias2 = 1.0 - std::pow(optimizer.beta2, adam_step);
    const auto step_size = static_cast<float>(optimizer.lr / bias1);
    const auto bias2_sqrt = static_cast<float>(std::sqrt(bias2));
    const auto b1 = static_cast<float>(optimizer.beta1);
    const auto b2 = static_cast<float>(optimizer.beta2);
    const auto eps = static_cast<float>(optimizer.eps);
    const auto wd = static_cast<float>(optimizer.weight_decay);
    float* p = params.get();
    float* m = state1.get();
    float* v = state2.get();
    for (int64_t i = lo; i < hi; ++i) {
      const float g = grad[i] + wd * p[i];
      m[i] = b1 * m[i] + (1.0f - b1) * g;
      v[i] = b2 * v[i] + (1.0f - b2) * g * g;
      const float denom = std::sqrt(v[i]) / bias2_sqrt + eps;
      p[i] -= step_size * (m[i] / denom);
    }
  }

  // Learner::Train's steps with DP-SGD (dp_sgd.h): the noisy clipped
  // gradient replaces the mini-batch gradient; the optimizer is the same.
  TrainStats TrainDpSgd(at::Tensor& p, int64_t steps) {
    if (!dp_grad) dp_grad = AllocateAligned(num_params);
    std::span<float> grad(dp_grad.get(), static_cast<size_t>(num_params));
    double loss_sum = 0;
    int64_t samples = 0;
    for (int64_t step = 0; step < steps; ++step) {
      dp_sgd->NoisyGradient(model, train, order, p, lo, hi, grad, &loss_sum, &samples);
      if (proximal_mu > 0) AddProximalGradient(grad.data());
      if (optimizer.kind == OptimizerKind::kSgd) {
        SgdStep(grad.data());
      } else {
        AdamStep(grad.data());
      }
    }
    TrainStats stats;
    stats.samples = samples;
    stats.mean_loss = samples > 0 ? loss_sum / static_cast<double>(samples) : 0.0;
    return stats;
  }

  // g += mu * (w - center): the gradient of mu/2 ||w - center||^2.
  void AddProximalGradient(float* grad) const {
    const auto mu = static_cast<float>(proximal_mu);
    const float* p = params.get();
    const float* c = proximal_center.data();
    for (int64_t i = lo; i < hi; ++i) grad[i] += mu * (p[i] - c[i]);
  }

  const TorchModel& model;
  const Dataset& train;
  std::vector<int64_t> order;  // the shard, permuted once per epoch
  int64_t cursor = INT64_MAX / 2;  // past the end: the first batch shuffles
  OptimizerConfig optimizer;
  int64_t batch;  // samples per step: min(batch_size, shard size)
  Rng batch_rng;
  int64_t num_params;
  AlignedFloats params;
  // SGD momentum buffer, or Adam's first and second moments; allocated on
  // first use so that plain SGD peers hold nothing but their parameters.
  AlignedFloats state1;
  AlignedFloats state2;
  bool state_started = false;
  int64_t adam_step = 0;
  double proximal_mu = 0;
  std::vector<float> proximal_center;  // empty unless proximal_mu > 0
  // The trainable range [lo, hi) of the buffer; the rest is frozen: no
  // optimizer step, momentum, moment or weight decay ever touches it.
  int64_t lo = 0;
  int64_t hi = num_params;
  AlignedFloats sam_saved;  // w during SAM's second pass
  AlignedFloats dp_grad;    // DP-SGD's noisy gradient
  std::unique_ptr<DpSgdState> dp_sgd;  // set by EnableDpSgd
  // The batch of the last DrawBatch (zeroth-order training).
  at::Tensor batch_x;
  at::Tensor batch_y;
};

Learner::Learner(const Model& model, const Dataset& train,
                 std::vector<int64_t> shard, const OptimizerConfig& optimizer,
                 int64_t batch_size, Rng init_rng, Rng batch_rng) {
  MURMUR_CHECK(!shard.empty());
  MURMUR_CHECK(batch_size >= 1);
  MURMUR_CHECK(train.HoldsEverySample());
  for (int64_t index : shard) {
    MURMUR_CHECK(index >= 0 && index < train.size());
  }
  impl_ = std::make_unique<Impl>(model, train, std::move(shard), optimizer,
                                 batch_size, batch_rng);
  model.Initialize(std::span<float>(impl_->params.get(), impl_->num_params),
                   init_rng);
}

Learner::~Learner() = default;

std::span<float> Learner::params() {
  return {impl_->params.get(), static_cast<size_t>(impl_->num_params)};
}

std::span<const float> Learner::params() const {
  return {impl_->params.get(), static_cast<size_t>(impl_->num_params)};
}

TrainStats Learner::Train(int64_t steps) {
  MURMUR_CHECK(steps >= 0);
  Impl& s = *impl_;
  // A thread that never ran ATen parallel work would otherwise use OpenMP's
  // default thread count inside oneDNN kernels, making results depend on
  // which thread trains.
  at::init_num_threads();
  at::AutoGradMode grad_mode(true);
  // On a GPU the optimizer still steps the host buffer: each step uploads
  // the parameters and downloads the gradient (2 x 4 bytes a parameter).
  at::Tensor p = s.DeviceParams();
  p.requires_grad_(true);
  const at::Device device = s.model.device();
  if (s.dp_sgd) return s.TrainDpSgd(p, steps);
  double loss_sum = 0;
  at::Tensor x, y;
  for (int64_t step = 0; step < steps; ++step) {
    s.NextBatch(x, y);
    x = x.to(device);
    y = y.to(device);
    at::Tensor loss, grad;
    if (s.optimizer.sam_rho > 0 || !s.model.LossAndGradient(p, x, y, &loss, &grad)) {
      loss = at::cross_entropy_loss(s.model.Forward(p, x), y);
      loss.backward();
      // The gradient is the flat tensor the backward pass produced (autograd
      // hands it over rather than copying since p had no grad before).
      grad = p.grad().to(at::kCPU).contiguous();
    }
    loss_sum += loss.item<double>();
    if (s.optimizer.sam_rho > 0) grad = s.SharpnessAwareGradient(p, x, y, grad);
    if (s.proximal_mu > 0) s.AddProximalGradient(grad.data_ptr<float>());
    if (s.optimizer.kind == OptimizerKind::kSgd) {
      s.SgdStep(grad.data_ptr<float>());
    } else {
      s.AdamStep(grad.data_ptr<float>());
    }
    s.Upload(p);
    p.mutable_grad().reset();
  }
  TrainStats stats;
  stats.samples = steps * s.batch;
  stats.mean_loss = steps > 0 ? loss_sum / static_cast<double>(steps) : 0.0;
  return stats;
}

void Learner::SetTrainableRange(int64_t offset, int64_t size) {
  Impl& s = *impl_;
  MURMUR_CHECK(offset >= 0 && size >= 1 && offset + size <= s.num_params);
  s.lo = offset;
  s.hi = offset + size;
  ResetOptimizer();
}

int64_t Learner::trainable_offset() const { return impl_->lo; }
int64_t Learner::trainable_size() const { return impl_->hi - impl_->lo; }

void Learner::ResetOptimizer() {
  impl_->state_started = false;
  impl_->adam_step = 0;
}

void Learner::SetProximalTerm(double mu, std::span<const float> center) {
  MURMUR_CHECK(mu >= 0);
  Impl& s = *impl_;
  s.proximal_mu = mu;
  if (mu == 0) {
    std::vector<float>().swap(s.proximal_center);
    return;
  }
  MURMUR_CHECK(static_cast<int64_t>(center.size()) == s.num_params);
  s.proximal_center.assign(center.begin(), center.end());
}

void Learner::EnableDpSgd(const DpSgdOptions& options, Rng sampling_rng, Rng noise_rng) {
  Impl& s = *impl_;
  MURMUR_CHECK(s.optimizer.sam_rho == 0);
  s.dp_sgd = std::make_unique<DpSgdState>(options, s.batch, static_cast<int64_t>(s.order.size()),
                                          sampling_rng, noise_rng);
}

void Learner::Save(SnapshotWriter& out) const {
  MURMUR_CHECK(CanSnapshot());
  const Impl& s = *impl_;
  for (const AlignedFloats* b : {&s.params, &s.state1, &s.state2}) {
    out.Floats(*b ? std::span<const float>(b->get(), s.num_params) : std::span<const float>());
  }
  out.Bool(s.state_started);
  out.I64(s.adam_step);
  out.F64(s.proximal_mu);
  out.Floats(s.proximal_center);
  for (int64_t v : {s.lo, s.hi}) out.I64(v);
  out.I64s(s.order);
  out.I64(s.cursor);
  out.Random(s.batch_rng);
}

Status Learner::Restore(SnapshotReader& in) {
  Impl& s = *impl_;
  in.FloatsInto("learner.params", params());
  for (AlignedFloats* b : {&s.state1, &s.state2}) {
    const std::vector<float> v = in.Floats("learner.optimizer_state");
    if (v.empty()) continue;
    if (static_cast<int64_t>(v.size()) != s.num_params) {
      return Status::Corrupt("snapshot: optimizer state of ", v.size(), " floats");
    }
    if (!*b) *b = AllocateAligned(s.num_params);
    std::copy(v.begin(), v.end(), b->get());
  }
  s.state_started = in.Bool("learner.state_started");
  s.adam_step = in.I64("learner.adam_step");
  s.proximal_mu = in.F64("learner.proximal_mu");
  s.proximal_center = in.Floats("learner.proximal_center");
  for (int64_t* v : {&s.lo, &s.hi}) *v = in.I64("learner.range");
  std::vector<int64_t> order = in.I64s("learner.order");
  s.cursor = in.I64("learner.cursor");
  in.Random("learner.batch_rng", s.batch_rng);
  MURMUR_RETURN_IF_ERROR(in.status());
  const bool order_ok = order.size() == s.order.size() &&
                        std::none_of(order.begin(), order.end(), [&](int64_t i) {
                          return i < 0 || i >= s.train.size();
                        });
  const bool center_ok = s.proximal_mu == 0 ? s.proximal_center.empty()
                                            : static_cast<int64_t>(s.proximal_center.size()) ==
                                                  s.num_params;
  if (!order_ok || s.lo < 0 || s.lo >= s.hi || s.hi > s.num_params ||
      s.cursor < 0 || !center_ok || !(s.proximal_mu >= 0)) {
    return Status::Corrupt("snapshot: a learner's shard, range or proximal term does not fit "
                           "this run's config");
  }
  s.order = std::move(order);
  return Status::Ok();
}

bool Learner::dp_sgd_enabled() const { return impl_->dp_sgd != nullptr; }

int64_t Learner::dp_sgd_steps() const {
  return impl_->dp_sgd ? impl_->dp_sgd->steps() : 0;
}

double Learner::dp_sgd_sampling_rate() const {
  return static_cast<double>(impl_->batch) / static_cast<double>(impl_->order.size());
}

const DpSgdOptions& Learner::dp_sgd_options() const {
  MURMUR_CHECK(impl_->dp_sgd != nullptr);
  return impl_->dp_sgd->options();
}

int64_t Learner::shard_size() const {
  return static_cast<int64_t>(impl_->order.size());
}

int64_t Learner::batch_size() const { return impl_->batch; }

double Learner::TrainFlops(int64_t steps) const {
  // SAM runs forward and backward twice per step.
  const double passes = impl_->optimizer.sam_rho > 0 ? 2.0 : 1.0;
  return passes * 3.0 * impl_->model.forward_flops_per_sample() *
         static_cast<double>(impl_->batch) * static_cast<double>(steps);
}

void Learner::DrawBatch() { impl_->NextBatch(impl_->batch_x, impl_->batch_y); }

double Learner::BatchLoss(std::span<const float> params) {
  Impl& s = *impl_;
  MURMUR_CHECK(s.batch_x.defined());
  MURMUR_CHECK(static_cast<int64_t>(params.size()) == s.num_params);
  at::init_num_threads();
  c10::InferenceMode inference;
  const at::Device device = s.model.device();
  at::Tensor p =
      at::from_blob(const_cast<float*>(params.data()), {s.num_params}, at::kFloat).to(device);
  return at::cross_entropy_loss(s.model.Forward(p, s.batch_x.to(device)), s.batch_y.to(device))
      .item<double>();
}

SpsaEstimate Learner::EstimateSpsa(const PerturbationKey& key, float eps) {
  // One scratch model per compute thread: peers that estimate one after the
  // other on a thread reuse it, so memory grows with threads, not peers.
  thread_local std::vector<float> scratch;
  scratch.resize(static_cast<size_t>(impl_->num_params));
  DrawBatch();
  return EstimateProjectedGradient(
      [this](std::span<const float> w) { return BatchLoss(w); }, params(), eps, key, scratch);
}

void Learner::AddPerturbation(float scale, const PerturbationKey& key) {
  AddScaledPerturbation(params(), scale, key);
}

double Learner::SpsaFlops(int64_t estimates) const {
  return 2.0 * impl_->model.forward_flops_per_sample() * static_cast<double>(impl_->batch) *
         static_cast<double>(estimates);
}

}  // namespace murmur
