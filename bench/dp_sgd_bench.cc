// DP-SGD throughput: training samples per second of Learner::Train with
// plain SGD, DP-SGD with vectorized per-sample gradients (the fast path,
// learn/per_sample_grad.h) and DP-SGD with one backward pass per sample
// (DpSgdOptions::per_sample_loop), for the logistic regression, an MLP and
// LeNet-5 on random 28x28 data, batch 64 (DP-SGD: expected batch 64 by
// Poisson sampling), clip 1, sigma 1, one compute thread. Prints each
// figure and the ratios measured in the same run. Run:
//   nice -n 10 ./build/dp_sgd_bench [seconds per measurement, default 2]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "murmur/learn/learner.h"
#include "murmur/learn/text_dataset.h"

namespace murmur {
namespace {

Dataset RandomImages(int64_t n) {
  Dataset d;
  d.name = "random";
  d.channels = 1;
  d.height = 28;
  d.width = 28;
  d.num_classes = 10;
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  d.features.resize(static_cast<size_t>(n * d.sample_dim()));
  for (float& v : d.features) v = static_cast<float>(rng.Normal());
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int64_t>(rng.UniformInt(10)));
  return d;
}

// Character contexts for the char MLP: 16 ids of the fortunes vocabulary
// per sample, the next character as the label.
Dataset RandomText(int64_t n) {
  Dataset d;
  d.name = "random-text";
  d.channels = 1;
  d.height = 1;
  d.width = 16;
  d.num_classes = kCharVocabSize;
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  d.features.resize(static_cast<size_t>(n * d.sample_dim()));
  for (float& v : d.features) v = static_cast<float>(rng.UniformInt(kCharVocabSize));
  for (int64_t i = 0; i < n; ++i) {
    d.labels.push_back(static_cast<int64_t>(rng.UniformInt(kCharVocabSize)));
  }
  return d;
}

enum class Mode { kPlain, kFast, kLoop };

// Samples per second over at least `seconds` of Train(5) calls.
double SamplesPerSecond(const Model& model, const Dataset& data, Mode mode, double seconds) {
  std::vector<int64_t> shard(static_cast<size_t>(data.size()));
  for (size_t i = 0; i < shard.size(); ++i) shard[i] = static_cast<int64_t>(i);
  Learner learner(model, data, shard, OptimizerConfig{.kind = OptimizerKind::kSgd, .lr = 0.01},
                  64, Rng(1, PeerId(0), RngPurpose::kInit), Rng(1, PeerId(0), RngPurpose::kBatch));
  if (mode != Mode::kPlain) {
    learner.EnableDpSgd({.clip = 1.0, .noise_multiplier = 1.0, .per_sample_loop = mode == Mode::kLoop},
                        Rng(2, PeerId(0), RngPurpose::kTest), Rng(3, PeerId(0), RngPurpose::kTest));
  }
  learner.Train(2);  // warm-up
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t samples = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    samples += learner.Train(5).samples;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return static_cast<double>(samples) / elapsed;
}

int Main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  ConfigureTorchThreads(1);
  const Dataset data = RandomImages(6400);
  const InputShape input{.channels = 1, .height = 28, .width = 28, .num_classes = 10};
  const ModelConfig kinds[] = {{.kind = ModelKind::kLogisticRegression},
                               {.kind = ModelKind::kMlp, .hidden = {200, 200}},
                               {.kind = ModelKind::kCnn}};
  std::printf("%-16s %12s %12s %12s %10s %10s\n", "model", "sgd/s", "dpsgd_fast/s",
              "dpsgd_loop/s", "fast/loop", "fast/sgd");
  auto measure = [seconds](const ModelConfig& config, const InputShape& shape,
                           const Dataset& samples) {
    Result<std::unique_ptr<Model>> model = MakeModel(config, shape);
    MURMUR_CHECK(model.ok());
    const double plain = SamplesPerSecond(**model, samples, Mode::kPlain, seconds);
    const double fast = SamplesPerSecond(**model, samples, Mode::kFast, seconds);
    const double loop = SamplesPerSecond(**model, samples, Mode::kLoop, seconds);
    std::printf("%-16s %12.0f %12.0f %12.0f %10.2f %10.2f\n", (*model)->name().c_str(), plain,
                fast, loop, fast / loop, fast / plain);
  };
  for (const ModelConfig& config : kinds) measure(config, input, data);
  // The char MLP of examples/charlm_pretrain.toml's shape (embedding 16,
  // one hidden layer of 256) over 16-character contexts.
  const InputShape text{.channels = 1, .height = 1, .width = 16, .num_classes = kCharVocabSize};
  measure({.kind = ModelKind::kCharMlp, .hidden = {256}, .embedding_dim = 16}, text,
          RandomText(6400));
  return 0;
}

}  // namespace
}  // namespace murmur

int main(int argc, char** argv) { return murmur::Main(argc, argv); }
