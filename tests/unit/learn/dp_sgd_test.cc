// DP-SGD in the learner (learn/dp_sgd.h): per-sample clipping on a
// hand-differentiated logistic regression, the clipped sum against the
// batch gradient for every built-in model kind, Poisson sampling's rate,
// and a DP-SGD step without noise or clipping against a plain SGD step.
#include "learn/dp_sgd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "murmur/learn/learner.h"
#include "murmur/learn/text_dataset.h"

namespace murmur {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::unique_ptr<Model> Make(const ModelConfig& config, const InputShape& input) {
  Result<std::unique_ptr<Model>> model = MakeModel(config, input);
  MURMUR_CHECK(model.ok());
  return std::move(model).value();
}

// Four 1x2 samples in 3 classes.
Dataset Tiny() {
  Dataset d;
  d.name = "tiny";
  d.channels = 1;
  d.height = 1;
  d.width = 2;
  d.num_classes = 3;
  d.features = {1, 2, 0, -1, 3, 0, -2, 1};
  d.labels = {0, 1, 1, 2};
  return d;
}

at::Tensor Features(const Dataset& d) {
  return at::from_blob(const_cast<float*>(d.features.data()),
                       {d.size(), d.channels, d.height, d.width}, at::kFloat)
      .clone();
}
at::Tensor Labels(const Dataset& d) {
  return at::from_blob(const_cast<int64_t*>(d.labels.data()), {d.size()}, at::kLong).clone();
}

// At zero weights every softmax is 1/3, so sample (x, y) has the gradient
// e x^T for the weight [3 x 2] and e for the bias, e = 1/3 - onehot(y), and
// ||g||^2 = ||e||^2 (||x||^2 + 1) = 2/3 (||x||^2 + 1): norms 2, sqrt(4/3),
// sqrt(20/3) and 2. With C = 1.5 samples 0, 2 and 3 are scaled by C/||g||.
TEST(DpSgdClipping, ClipsEachSampleOfAHandDifferentiatedLogisticRegression) {
  ConfigureTorchThreads(1);
  const Dataset d = Tiny();
  auto model = Make({.kind = ModelKind::kLogisticRegression},
                    {.channels = 1, .height = 1, .width = 2, .num_classes = 3});
  ASSERT_EQ(model->num_params(), 9);
  std::vector<float> params(9, 0.0f);
  at::Tensor p = at::from_blob(params.data(), {9}, at::kFloat);
  p.requires_grad_(true);
  std::vector<float> sum(9);
  const ClippedSum out = ClippedGradientSum(AsTorchModel(*model), p, Features(d), Labels(d),
                                            1.5, 0, 9, sum);
  // Per sample: e (3 classes) and x (2 features), and the clip scale.
  const double t = 1.0 / 3.0;
  const double e[4][3] = {{-2 * t, t, t}, {t, -2 * t, t}, {t, -2 * t, t}, {t, t, -2 * t}};
  const double x[4][2] = {{1, 2}, {0, -1}, {3, 0}, {-2, 1}};
  const double scale[4] = {0.75, 1.0, 1.5 / std::sqrt(20.0 / 3.0), 0.75};
  std::vector<double> expected(9, 0.0);
  for (int i = 0; i < 4; ++i) {
    for (int c = 0; c < 3; ++c) {
      expected[2 * c] += scale[i] * e[i][c] * x[i][0];
      expected[2 * c + 1] += scale[i] * e[i][c] * x[i][1];
      expected[6 + c] += scale[i] * e[i][c];
    }
  }
  for (int k = 0; k < 9; ++k) EXPECT_NEAR(sum[k], expected[k], 1e-6) << "coordinate " << k;
  EXPECT_EQ(out.clipped, 3);
  EXPECT_NEAR(out.loss_sum, 4 * std::log(3.0), 1e-5);
  EXPECT_FALSE(p.grad().defined());
}

TEST(DpSgdClipping, AClippedSampleMovesTheModelByExactlyTheClipNorm) {
  ConfigureTorchThreads(1);
  Dataset d = Tiny();
  auto model = Make({.kind = ModelKind::kLogisticRegression},
                    {.channels = 1, .height = 1, .width = 2, .num_classes = 3});
  // One sample, batch 1: q = 1, and lr = 1 makes the step the clipped
  // gradient itself (norm 2 > C = 0.5 for sample 0 at any small weights).
  Learner learner(*model, d, {0}, OptimizerConfig{.kind = OptimizerKind::kSgd, .lr = 1.0}, 1,
                  Rng(3, PeerId(0), RngPurpose::kInit), Rng(3, PeerId(0), RngPurpose::kBatch));
  std::fill(learner.params().begin(), learner.params().end(), 0.0f);
  learner.EnableDpSgd({.clip = 0.5, .noise_multiplier = 0}, Rng(3, PeerId(0), RngPurpose::kTest),
                      Rng(4, PeerId(0), RngPurpose::kTest));
  EXPECT_EQ(learner.dp_sgd_sampling_rate(), 1.0);
  learner.Train(1);
  double sq = 0;
  for (float v : learner.params()) sq += static_cast<double>(v) * v;
  EXPECT_NEAR(std::sqrt(sq), 0.5, 1e-6);
  EXPECT_EQ(learner.dp_sgd_steps(), 1);
}

// Random inputs valid for `input` (character ids for the char model).
Dataset RandomData(const InputShape& input, int64_t n, bool ids, uint64_t seed) {
  Dataset d;
  d.name = "random";
  d.channels = input.channels;
  d.height = input.height;
  d.width = input.width;
  d.num_classes = input.num_classes;
  Rng rng(seed, PeerId(0), RngPurpose::kTest);
  for (int64_t i = 0; i < n * d.sample_dim(); ++i) {
    d.features.push_back(ids ? static_cast<float>(rng.UniformInt(input.num_classes))
                             : static_cast<float>(rng.Normal()));
  }
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int64_t>(rng.UniformInt(input.num_classes)));
  return d;
}

// With C = infinity the clipped sum is the sum of the per-sample gradients:
// n times the batch's mean gradient, for every built-in kind.
TEST(DpSgdClipping, UnclippedSumIsTheBatchGradientForEveryModelKind) {
  ConfigureTorchThreads(1);
  const InputShape image{.channels = 1, .height = 28, .width = 28, .num_classes = 10};
  const InputShape text{.channels = 1, .height = 1, .width = 6, .num_classes = kCharVocabSize};
  struct Case {
    ModelConfig config;
    InputShape input;
    bool ids;
  };
  const Case cases[] = {{{.kind = ModelKind::kLogisticRegression}, image, false},
                        {{.kind = ModelKind::kMlp, .hidden = {16, 8}}, image, false},
                        {{.kind = ModelKind::kCnn}, image, false},
                        {{.kind = ModelKind::kCharMlp, .hidden = {8}, .embedding_dim = 3}, text, true}};
  for (const Case& c : cases) {
    auto model = Make(c.config, c.input);
    const Dataset d = RandomData(c.input, 5, c.ids, 11);
    std::vector<float> params(model->num_params());
    Rng init(1, PeerId(0), RngPurpose::kInit);
    model->Initialize(params, init);
    at::Tensor p = at::from_blob(params.data(), {model->num_params()}, at::kFloat);
    p.requires_grad_(true);
    const TorchModel& torch_model = AsTorchModel(*model);
    at::cross_entropy_loss(torch_model.Forward(p, Features(d)), Labels(d)).backward();
    at::Tensor batch = p.grad().clone() * 5;
    p.mutable_grad().reset();
    std::vector<float> sum(params.size());
    const ClippedSum out =
        ClippedGradientSum(torch_model, p, Features(d), Labels(d), kInf, 0, model->num_params(), sum);
    EXPECT_EQ(out.clipped, 0);
    const float* b = batch.data_ptr<float>();
    double max_err = 0, max_abs = 0;
    for (size_t k = 0; k < sum.size(); ++k) {
      max_err = std::max(max_err, static_cast<double>(std::fabs(sum[k] - b[k])));
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(b[k])));
    }
    EXPECT_GT(max_abs, 0) << model->name();
    EXPECT_LE(max_err, 1e-5 * std::max(1.0, max_abs)) << model->name();
  }
}

// Each of N = 1000 samples joins each of 400 draws with probability q: the
// total is Binomial(400000, q), within 5 standard deviations of its mean,
// and so are the first and the last 100 samples' counts (no edge bias).
TEST(DpSgdSampling, PoissonSampleIncludesEachSampleWithProbabilityQ) {
  std::vector<int64_t> shard(1000);
  std::iota(shard.begin(), shard.end(), 0);
  for (double q : {0.01, 0.05, 0.3}) {
    Rng rng(9, PeerId(2), RngPurpose::kTest);
    std::vector<int64_t> hits(shard.size(), 0);
    const int draws = 400;
    for (int t = 0; t < draws; ++t) {
      const std::vector<int64_t> batch = PoissonSample(shard, q, rng);
      for (size_t i = 1; i < batch.size(); ++i) ASSERT_LT(batch[i - 1], batch[i]);
      for (int64_t k : batch) ++hits[k];
    }
    const auto within = [&](int64_t count, double trials) {
      const double mean = trials * q, sd = std::sqrt(trials * q * (1 - q));
      return std::fabs(static_cast<double>(count) - mean) <= 5 * sd;
    };
    const int64_t total = std::accumulate(hits.begin(), hits.end(), int64_t{0});
    EXPECT_TRUE(within(total, 1000.0 * draws)) << "q=" << q << " total=" << total;
    const int64_t head = std::accumulate(hits.begin(), hits.begin() + 100, int64_t{0});
    const int64_t tail = std::accumulate(hits.end() - 100, hits.end(), int64_t{0});
    EXPECT_TRUE(within(head, 100.0 * draws)) << "q=" << q << " head=" << head;
    EXPECT_TRUE(within(tail, 100.0 * draws)) << "q=" << q << " tail=" << tail;
  }
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  EXPECT_EQ(PoissonSample(shard, 1.0, rng), shard);
}

// q = 1 (the batch is the whole shard), sigma = 0 and C = infinity: a
// DP-SGD step is the plain full-batch SGD step, up to float summation order.
TEST(DpSgdLearner, WithoutNoiseOrClippingItIsPlainSgd) {
  ConfigureTorchThreads(1);
  const InputShape image{.channels = 1, .height = 28, .width = 28, .num_classes = 10};
  const Dataset d = RandomData(image, 48, false, 5);
  std::vector<int64_t> shard(48);
  std::iota(shard.begin(), shard.end(), 0);
  for (const ModelConfig& config :
       {ModelConfig{.kind = ModelKind::kLogisticRegression},
        ModelConfig{.kind = ModelKind::kMlp, .hidden = {16}}}) {
    auto model = Make(config, image);
    const OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = 0.1, .momentum = 0.9};
    Learner plain(*model, d, shard, opt, 48, Rng(1, PeerId(0), RngPurpose::kInit),
                  Rng(1, PeerId(0), RngPurpose::kBatch));
    Learner dp(*model, d, shard, opt, 48, Rng(1, PeerId(0), RngPurpose::kInit),
               Rng(1, PeerId(0), RngPurpose::kBatch));
    dp.EnableDpSgd({.clip = kInf, .noise_multiplier = 0}, Rng(2, PeerId(0), RngPurpose::kTest),
                   Rng(3, PeerId(0), RngPurpose::kTest));
    const TrainStats a = plain.Train(3);
    const TrainStats b = dp.Train(3);
    EXPECT_EQ(b.samples, 3 * 48);
    EXPECT_NEAR(a.mean_loss, b.mean_loss, 1e-4);
    for (size_t k = 0; k < plain.params().size(); ++k) {
      ASSERT_NEAR(plain.params()[k], dp.params()[k], 1e-5) << model->name() << " " << k;
    }
  }
}

// The noise comes from the given streams: the same seeds give the same
// model bit for bit, another noise seed another model.
TEST(DpSgdLearner, NoiseIsReplayableFromTheSeed) {
  ConfigureTorchThreads(1);
  const InputShape image{.channels = 1, .height = 28, .width = 28, .num_classes = 10};
  const Dataset d = RandomData(image, 64, false, 6);
  std::vector<int64_t> shard(64);
  std::iota(shard.begin(), shard.end(), 0);
  auto model = Make({.kind = ModelKind::kLogisticRegression}, image);
  auto run = [&](uint64_t noise_seed) {
    Learner l(*model, d, shard, OptimizerConfig{.lr = 0.1}, 8, Rng(1, PeerId(0), RngPurpose::kInit),
              Rng(1, PeerId(0), RngPurpose::kBatch));
    l.EnableDpSgd({.clip = 1.0, .noise_multiplier = 1.1}, Rng(2, PeerId(0), RngPurpose::kTest),
                  Rng(noise_seed, PeerId(0), RngPurpose::kTest));
    l.Train(4);
    EXPECT_EQ(l.dp_sgd_steps(), 4);
    EXPECT_DOUBLE_EQ(l.dp_sgd_sampling_rate(), 8.0 / 64.0);
    return std::vector<float>(l.params().begin(), l.params().end());
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

}  // namespace
}  // namespace murmur
