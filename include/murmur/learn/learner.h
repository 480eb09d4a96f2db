// A peer's local learner: its flat parameter buffer, optimizer state, local
// data shard and mini-batch stream, trained with LibTorch autograd through
// the shared stateless Model. Optimizers (on the flat buffer):
//  * SGD with momentum and weight decay (PyTorch semantics).
//  * Adam (Kingma and Ba, 2015, "Adam: A Method for Stochastic
//    Optimization"), with L2 weight decay added to the gradient.
// Either can take sharpness-aware steps (Foret, Kleiner, Mobahi, Neyshabur,
// 2021, "Sharpness-Aware Minimization for Efficiently Improving
// Generalization"): with sam_rho > 0 each step's gradient is taken at
// w + rho g/||g|| on the same mini-batch (g the gradient at w), which costs
// a second forward and backward pass.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/snapshot.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/model.h"
#include "murmur/learn/perturbation.h"

namespace murmur {

enum class OptimizerKind { kSgd, kAdam };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kSgd;
  double lr = 0.05;
  double momentum = 0.0;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double sam_rho = 0;  // SAM neighbourhood radius; 0: plain steps
};

// Sample-level DP-SGD (Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar,
// Zhang, 2016, "Deep Learning with Differential Privacy"); see
// Learner::EnableDpSgd.
struct DpSgdOptions {
  double clip = 1.0;             // C: every sample's gradient L2 norm bound, > 0
  double noise_multiplier = 0;   // sigma: noise N(0, (sigma C)^2) on the sum, >= 0
  // One backward pass per sample even where the model has a vectorized
  // per-sample gradient (learn/dp_sgd.h); for benchmarks and tests.
  bool per_sample_loop = false;
};

struct TrainStats {
  double mean_loss = 0;
  int64_t samples = 0;
};

struct EvalStats {
  double accuracy = 0;
  double loss = 0;
  int64_t samples = 0;
};

// Sets LibTorch's intra-op and inter-op thread counts and OpenBLAS's thread
// count (murmur parallelizes across peers itself; each peer's compute is
// single-threaded so results do not depend on the thread count), and tunes
// glibc malloc to keep per-step tensor buffers mapped. Call once at startup.
void ConfigureTorchThreads(int intra_op_threads);

// One per peer. Not thread-safe; different Learners may train concurrently.
// `model` and `train` must outlive the Learner.
class Learner {
 public:
  // Parameters are initialized by model.Initialize(init_rng). Mini-batches
  // are drawn without replacement from `shard` (reshuffled each epoch) using
  // `batch_rng`. REQUIRES: shard non-empty, batch_size >= 1.
  Learner(const Model& model, const Dataset& train, std::vector<int64_t> shard,
          const OptimizerConfig& optimizer, int64_t batch_size, Rng init_rng,
          Rng batch_rng);
  ~Learner();
  Learner(const Learner&) = delete;
  Learner& operator=(const Learner&) = delete;

  std::span<float> params();
  std::span<const float> params() const;

  // Runs `steps` optimizer steps on local mini-batches.
  TrainStats Train(int64_t steps);
  // Clears momentum / Adam moments (e.g. a FedAvg client's fresh optimizer).
  void ResetOptimizer();
  // Freezes every parameter outside [offset, offset + size): from now on
  // Train() steps only that range (gradients, momentum, Adam moments, weight
  // decay, SAM's ascent and the proximal term all stay inside it), so the
  // rest of the buffer stays bit for bit as it is. Transfer learning with a
  // frozen body trains OutputLayerOf(model) this way. Resets the optimizer.
  // The default is the whole buffer. REQUIRES: 0 <= offset, size >= 1,
  // offset + size <= params().size().
  void SetTrainableRange(int64_t offset, int64_t size);
  int64_t trainable_offset() const;
  int64_t trainable_size() const;
  // FedProx's proximal term (Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith,
  // 2020, "Federated Optimization in Heterogeneous Networks"): from now on
  // Train() minimizes F(w) + mu/2 ||w - center||^2, i.e. adds
  // mu * (w - center) to every gradient. mu = 0 (the default) turns it off
  // and frees the copy of `center`. REQUIRES: mu >= 0 and, when mu > 0,
  // center.size() == params().size().
  void SetProximalTerm(double mu, std::span<const float> center);

  // From now on every Train() step is a DP-SGD step (Abadi et al. 2016):
  // a Poisson sample of the shard at rate q = batch_size() / shard_size()
  // drawn from `sampling_rng`, per-sample gradients clipped to options.clip
  // over the trainable range, N(0, (noise_multiplier clip)^2) per trainable
  // coordinate from `noise_rng` added to their sum, divided by
  // batch_size(); then the configured optimizer step. Each step is one step
  // of the subsampled Gaussian mechanism in privacy/accountant.h. Per-sample
  // gradients take one backward pass per batch for the logistic regression,
  // MLP and CNN, one per sample for other models (src/learn/dp_sgd.h).
  // REQUIRES: options.clip > 0, options.noise_multiplier >= 0, sam_rho == 0.
  void EnableDpSgd(const DpSgdOptions& options, Rng sampling_rng, Rng noise_rng);
  bool dp_sgd_enabled() const;
  // DP-SGD steps taken so far (0 without DP-SGD). Safe to read from another
  // thread while Train() runs.
  int64_t dp_sgd_steps() const;
  // q = batch_size() / shard_size().
  double dp_sgd_sampling_rate() const;
  // REQUIRES: dp_sgd_enabled().
  const DpSgdOptions& dp_sgd_options() const;

  // Snapshots (core/snapshot.h): the parameters, the optimizer state, the
  // proximal term, the trainable range, the shard's order, the position in
  // it and the batch stream. A DP-SGD learner's accountant state is not
  // saved: CanSnapshot() is false then. Restore reads into a learner built
  // from the same config (kCorrupt for bytes that do not fit).
  bool CanSnapshot() const { return !dp_sgd_enabled(); }
  void Save(SnapshotWriter& out) const;
  Status Restore(SnapshotReader& in);

  int64_t shard_size() const;
  // Samples per step: the configured batch size, capped at shard_size().
  int64_t batch_size() const;
  // Estimated flops of Train(steps): forward + backward ~ 3x forward.
  double TrainFlops(int64_t steps) const;

  // Zeroth-order training (learn/perturbation.h).
  // Draws the next mini-batch of the shard, from the same stream Train uses.
  void DrawBatch();
  // Mean cross-entropy of `params` on the batch of the last DrawBatch,
  // forward only (no autograd graph). REQUIRES: DrawBatch was called;
  // params.size() == the model's num_params.
  double BatchLoss(std::span<const float> params);
  // Draws a batch and returns the two-point SPSA estimate along z(key) at the
  // current parameters, which stay bit-for-bit unchanged: the perturbed
  // models live in a scratch buffer per compute thread, not per peer.
  // REQUIRES: eps > 0.
  SpsaEstimate EstimateSpsa(const PerturbationKey& key, float eps);
  // params += scale * z(key), in place, generated block by block.
  void AddPerturbation(float scale, const PerturbationKey& key);
  // Estimated flops of `estimates` SPSA estimates: two forward passes each.
  double SpsaFlops(int64_t estimates) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Accuracy and mean cross-entropy of `params` on the first
// min(max_samples, test.size()) samples of `test` (all when max_samples<=0),
// per prediction: per sample, or per token for a model that predicts at
// every position (the transformer); `samples` counts samples.
// Thread-safe for distinct calls. REQUIRES: params.size() == num_params().
EvalStats Evaluate(const Model& model, std::span<const float> params,
                   const Dataset& test, int64_t max_samples);

// Per-class accuracy: correct[c] of total[c] samples of class c were
// classified as c.
struct ClassAccuracy {
  std::vector<int64_t> correct;
  std::vector<int64_t> total;
  // correct[c] / total[c]; 0 for a class without samples.
  double accuracy(size_t c) const {
    return total[c] > 0 ? static_cast<double>(correct[c]) / static_cast<double>(total[c]) : 0.0;
  }
};

// Evaluates `params` on every prediction of `data` (per sample, or per
// position for the transformer), class by class (argmax of
// the logits; a non-finite logit row counts as wrong). Thread-safe for
// distinct calls. REQUIRES: params.size() == num_params().
ClassAccuracy EvaluatePerClass(const Model& model, std::span<const float> params,
                               const Dataset& data);

}  // namespace murmur
