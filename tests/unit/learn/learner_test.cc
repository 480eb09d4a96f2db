#include "murmur/learn/learner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>
#include <vector>

#include "murmur/learn/partition.h"

namespace murmur {
namespace {

class LearnerTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    ConfigureTorchThreads(1);
    SyntheticOptions options;
    options.train_size = 2000;
    options.test_size = 500;
    options.seed = 5;
    synthetic_ = new TrainTestSplit(MakeSyntheticDataset(options));
  }
  static void TearDownTestSuite() {
    delete synthetic_;
    synthetic_ = nullptr;
  }

  static std::unique_ptr<Model> Make(ModelConfig config,
                                     InputShape input = {}) {
    Result<std::unique_ptr<Model>> model = MakeModel(config, input);
    MURMUR_CHECK(model.ok());
    return std::move(model).value();
  }

  static std::vector<int64_t> Range(int64_t n) {
    std::vector<int64_t> v(n);
    std::iota(v.begin(), v.end(), 0);
    return v;
  }

  static std::unique_ptr<Learner> MakeLearner(const Model& model,
                                              const Dataset& train,
                                              std::vector<int64_t> shard,
                                              const OptimizerConfig& opt,
                                              int64_t batch, uint64_t seed) {
    return std::make_unique<Learner>(
        model, train, std::move(shard), opt, batch,
        Rng(seed, PeerId{1}, RngPurpose::kInit),
        Rng(seed, PeerId{1}, RngPurpose::kBatch));
  }

  static std::vector<float> Copy(std::span<const float> s) {
    return {s.begin(), s.end()};
  }

  static TrainTestSplit* synthetic_;
};

TrainTestSplit* LearnerTest::synthetic_ = nullptr;

const ModelConfig kLogReg{.kind = ModelKind::kLogisticRegression};
const ModelConfig kMlp{.kind = ModelKind::kMlp, .hidden = {32}};
const ModelConfig kCnn{.kind = ModelKind::kCnn};

// Four 1x2 "images" in 3 classes, small enough to differentiate by hand.
Dataset TinyDataset() {
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
const InputShape kTinyShape{.channels = 1, .height = 1, .width = 2,
                            .num_classes = 3};

TEST_F(LearnerTest, LogisticRegressionLearnsSyntheticData) {
  auto model = Make(kLogReg);
  OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = 0.05};
  auto learner = MakeLearner(*model, synthetic_->train,
                             Range(synthetic_->train.size()), opt, 32, 1);
  EvalStats before = Evaluate(*model, learner->params(), synthetic_->test, 0);
  EXPECT_LT(before.accuracy, 0.3);
  TrainStats stats = learner->Train(300);
  EXPECT_EQ(stats.samples, 300 * 32);
  EvalStats after = Evaluate(*model, learner->params(), synthetic_->test, 0);
  EXPECT_EQ(after.samples, 500);
  EXPECT_GT(after.accuracy, 0.85);
  EXPECT_LT(after.loss, before.loss);
}

TEST_F(LearnerTest, SgdWithZeroLearningRateLeavesParamsUnchanged) {
  auto model = Make(kMlp);
  for (OptimizerKind kind : {OptimizerKind::kSgd, OptimizerKind::kAdam}) {
    OptimizerConfig opt{.kind = kind, .lr = 0.0, .momentum = 0.9,
                        .weight_decay = 0.1};
    auto learner = MakeLearner(*model, synthetic_->train, Range(200), opt, 16, 2);
    std::vector<float> before = Copy(learner->params());
    learner->Train(5);
    EXPECT_EQ(Copy(learner->params()), before);
  }
}

// With zero weights the softmax is uniform, so the cross-entropy gradient is
// dW[c] = mean_i (1/3 - [y_i = c]) x_i and db[c] = 1/3 - freq(c).
TEST_F(LearnerTest, OneSgdStepMatchesHandComputedGradient) {
  Dataset tiny = TinyDataset();
  auto model = Make(kLogReg, kTinyShape);
  ASSERT_EQ(model->num_params(), 9);
  OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = 0.5};
  auto learner = MakeLearner(*model, tiny, Range(4), opt, 4, 3);
  std::fill(learner->params().begin(), learner->params().end(), 0.0f);
  TrainStats stats = learner->Train(1);
  EXPECT_NEAR(stats.mean_loss, std::log(3.0), 1e-6);
  EXPECT_EQ(stats.samples, 4);
  // mean x = (0.5, 0.5); per-class sums of x: (1,2), (3,-1), (-2,1).
  const double grad[9] = {1.0 / 6 - 0.25, 1.0 / 6 - 0.5,    // W[0]
                          1.0 / 6 - 0.75, 1.0 / 6 + 0.25,   // W[1]
                          1.0 / 6 + 0.5,  1.0 / 6 - 0.25,   // W[2]
                          1.0 / 3 - 0.25, 1.0 / 3 - 0.5, 1.0 / 3 - 0.25};  // b
  for (int i = 0; i < 9; ++i) {
    EXPECT_NEAR(learner->params()[i], -0.5 * grad[i], 1e-6) << "param " << i;
  }
}

// SAM (Foret et al. 2021) on the tiny set from zero weights: g is the
// gradient above; the step uses the gradient at e = rho g/||g||, computed
// here from the softmax by hand: dW[c] = mean_i (p_ic - [y_i = c]) x_i,
// db[c] = mean_i (p_ic - [y_i = c]).
TEST_F(LearnerTest, SharpnessAwareStepMatchesHandComputedOne) {
  Dataset tiny = TinyDataset();
  auto model = Make(kLogReg, kTinyShape);
  const double lr = 0.5, rho = 0.2;
  OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = lr, .sam_rho = rho};
  auto learner = MakeLearner(*model, tiny, Range(4), opt, 4, 3);
  std::fill(learner->params().begin(), learner->params().end(), 0.0f);
  learner->Train(1);

  const double g[9] = {1.0 / 6 - 0.25, 1.0 / 6 - 0.5, 1.0 / 6 - 0.75, 1.0 / 6 + 0.25,
                       1.0 / 6 + 0.5,  1.0 / 6 - 0.25, 1.0 / 3 - 0.25, 1.0 / 3 - 0.5,
                       1.0 / 3 - 0.25};
  double norm = 0;
  for (double v : g) norm += v * v;
  norm = std::sqrt(norm);
  double e[9];
  for (int i = 0; i < 9; ++i) e[i] = rho * g[i] / norm;
  // Layout: W[c][k] at 2c + k, b[c] at 6 + c.
  double sam_grad[9] = {};
  for (int i = 0; i < 4; ++i) {
    const double x0 = tiny.features[2 * i], x1 = tiny.features[2 * i + 1];
    double z[3], zmax = -1e9, total = 0;
    for (int c = 0; c < 3; ++c) {
      z[c] = e[2 * c] * x0 + e[2 * c + 1] * x1 + e[6 + c];
      zmax = std::max(zmax, z[c]);
    }
    for (int c = 0; c < 3; ++c) total += std::exp(z[c] - zmax);
    for (int c = 0; c < 3; ++c) {
      const double d = std::exp(z[c] - zmax) / total - (tiny.labels[i] == c ? 1.0 : 0.0);
      sam_grad[2 * c] += d * x0 / 4;
      sam_grad[2 * c + 1] += d * x1 / 4;
      sam_grad[6 + c] += d / 4;
    }
  }
  for (int i = 0; i < 9; ++i) {
    EXPECT_NEAR(learner->params()[i], -lr * sam_grad[i], 1e-6) << "param " << i;
    // And it differs from the plain step.
    EXPECT_GT(std::abs(sam_grad[i] - g[i]), 1e-4) << "param " << i;
  }
}

// A plain-SGD learner with lr = 1 reveals the gradient at given params on
// its next batch: g = p - p'. Learners with the same batch seed and shard
// see the same batches, so this checks another optimizer step by step.
class GradientProbe {
 public:
  GradientProbe(const Model& model, const Dataset& train,
                std::vector<int64_t> shard, int64_t batch, uint64_t seed)
      : learner_(model, train, std::move(shard),
                 OptimizerConfig{.kind = OptimizerKind::kSgd, .lr = 1.0},
                 batch, Rng(seed, PeerId{1}, RngPurpose::kInit),
                 Rng(seed, PeerId{1}, RngPurpose::kBatch)) {}

  std::vector<double> NextGradient(std::span<const float> at) {
    std::copy(at.begin(), at.end(), learner_.params().begin());
    learner_.Train(1);
    std::vector<double> g(at.size());
    for (size_t i = 0; i < at.size(); ++i) {
      g[i] = static_cast<double>(at[i]) - learner_.params()[i];
    }
    return g;
  }

 private:
  Learner learner_;
};

TEST_F(LearnerTest, SgdMomentumAndWeightDecayFollowPyTorch) {
  auto model = Make(kLogReg);
  const double lr = 0.1, mu = 0.9, wd = 0.01;
  OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = lr, .momentum = mu,
                      .weight_decay = wd};
  auto learner = MakeLearner(*model, synthetic_->train, Range(300), opt, 16, 4);
  GradientProbe probe(*model, synthetic_->train, Range(300), 16, 4);
  const size_t n = learner->params().size();
  std::vector<double> buf(n);
  for (int step = 0; step < 3; ++step) {
    std::vector<float> p = Copy(learner->params());
    std::vector<double> g = probe.NextGradient(p);
    learner->Train(1);
    for (size_t i = 0; i < n; ++i) {
      double d = g[i] + wd * p[i];
      buf[i] = step == 0 ? d : mu * buf[i] + d;
      ASSERT_NEAR(learner->params()[i], p[i] - lr * buf[i], 2e-6)
          << "step " << step << " param " << i;
    }
  }
}

TEST_F(LearnerTest, ResetOptimizerClearsMomentum) {
  auto model = Make(kLogReg);
  const double lr = 0.1;
  OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = lr, .momentum = 0.9};
  auto learner = MakeLearner(*model, synthetic_->train, Range(300), opt, 16, 6);
  GradientProbe probe(*model, synthetic_->train, Range(300), 16, 6);
  probe.NextGradient(learner->params());
  learner->Train(1);
  learner->ResetOptimizer();
  std::vector<float> p = Copy(learner->params());
  std::vector<double> g = probe.NextGradient(p);
  learner->Train(1);
  for (size_t i = 0; i < p.size(); ++i) {
    ASSERT_NEAR(learner->params()[i], p[i] - lr * g[i], 2e-6) << i;
  }
}

// Adam's bias-corrected first step is lr * g / (|g| + eps): every parameter
// with a non-negligible gradient moves by lr against its gradient's sign,
// and none moves by more than lr.
void ExpectAdamFirstStep(std::span<const float> before,
                         std::span<const float> after,
                         const std::vector<double>& g, double lr) {
  int checked = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (std::abs(g[i]) > 1e-4) {
      double expected = before[i] - lr * g[i] / (std::abs(g[i]) + 1e-8);
      ASSERT_NEAR(after[i], expected, 1e-3 * lr + 1e-6) << i;
      ++checked;
    } else {
      ASSERT_LE(std::abs(after[i] - before[i]), 1.001 * lr) << i;
    }
  }
  EXPECT_GT(checked, static_cast<int>(before.size()) / 2);
}

TEST_F(LearnerTest, AdamFirstStepAndResetFollowBiasCorrection) {
  auto model = Make(kLogReg);
  const double lr = 0.01;
  OptimizerConfig opt{.kind = OptimizerKind::kAdam, .lr = lr};
  auto learner = MakeLearner(*model, synthetic_->train, Range(300), opt, 16, 7);
  GradientProbe probe(*model, synthetic_->train, Range(300), 16, 7);
  std::vector<float> p0 = Copy(learner->params());
  std::vector<double> g0 = probe.NextGradient(p0);
  learner->Train(1);
  ExpectAdamFirstStep(p0, learner->params(), g0, lr);
  // A second step without reset is not a first step any more...
  std::vector<float> p1 = Copy(learner->params());
  learner->Train(1);
  probe.NextGradient(p1);
  // ...but after a reset it is again.
  learner->ResetOptimizer();
  std::vector<float> p2 = Copy(learner->params());
  std::vector<double> g2 = probe.NextGradient(p2);
  learner->Train(1);
  ExpectAdamFirstStep(p2, learner->params(), g2, lr);
}

TEST_F(LearnerTest, AdamReducesLoss) {
  auto model = Make(kMlp);
  OptimizerConfig opt{.kind = OptimizerKind::kAdam, .lr = 1e-3};
  auto learner = MakeLearner(*model, synthetic_->train,
                             Range(synthetic_->train.size()), opt, 32, 8);
  EvalStats before = Evaluate(*model, learner->params(), synthetic_->test, 0);
  learner->Train(100);
  EvalStats after = Evaluate(*model, learner->params(), synthetic_->test, 0);
  EXPECT_LT(after.loss, 0.5 * before.loss);
  EXPECT_GT(after.accuracy, 0.8);
}

TEST_F(LearnerTest, SameSeedsGiveBitIdenticalParams) {
  for (const ModelConfig& config : {kLogReg, kMlp, kCnn}) {
    auto model = Make(config);
    OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = 0.05,
                        .momentum = 0.9};
    auto a = MakeLearner(*model, synthetic_->train, Range(100), opt, 8, 9);
    auto b = MakeLearner(*model, synthetic_->train, Range(100), opt, 8, 9);
    auto c = MakeLearner(*model, synthetic_->train, Range(100), opt, 8, 10);
    EXPECT_EQ(Copy(a->params()), Copy(b->params()));
    a->Train(15);
    b->Train(15);
    c->Train(15);
    EXPECT_EQ(Copy(a->params()), Copy(b->params())) << model->name();
    EXPECT_NE(Copy(a->params()), Copy(c->params())) << model->name();
  }
}

TEST_F(LearnerTest, TrainingOnOtherThreadsIsBitIdentical) {
  for (const ModelConfig& config : {kMlp, kCnn}) {
    auto model = Make(config);
    OptimizerConfig opt{.kind = OptimizerKind::kAdam, .lr = 1e-3};
    // Reference on this thread; then two learners concurrently, one of them
    // with the reference's seeds.
    auto reference =
        MakeLearner(*model, synthetic_->train, Range(200), opt, 16, 11);
    reference->Train(12);
    auto same = MakeLearner(*model, synthetic_->train, Range(200), opt, 16, 11);
    auto other = MakeLearner(*model, synthetic_->train, Range(200), opt, 16, 12);
    std::thread t1([&] { same->Train(12); });
    std::thread t2([&] { other->Train(12); });
    t1.join();
    t2.join();
    EXPECT_EQ(Copy(same->params()), Copy(reference->params())) << model->name();
    auto other_serial =
        MakeLearner(*model, synthetic_->train, Range(200), opt, 16, 12);
    other_serial->Train(12);
    EXPECT_EQ(Copy(other->params()), Copy(other_serial->params()))
        << model->name();
    // A learner handed from thread to thread mid-training, as a compute pool
    // does, ends where the single-threaded one does.
    auto relay = MakeLearner(*model, synthetic_->train, Range(200), opt, 16, 11);
    for (int leg = 0; leg < 3; ++leg) {
      std::thread t([&] { relay->Train(4); });
      t.join();
    }
    EXPECT_EQ(Copy(relay->params()), Copy(reference->params())) << model->name();
    // Evaluation from another thread agrees exactly too.
    EvalStats here = Evaluate(*model, reference->params(), synthetic_->test, 0);
    EvalStats there;
    std::thread t3([&] {
      there = Evaluate(*model, reference->params(), synthetic_->test, 0);
    });
    t3.join();
    EXPECT_EQ(here.loss, there.loss);
    EXPECT_EQ(here.accuracy, there.accuracy);
  }
}

TEST_F(LearnerTest, EvaluateMatchesHandComputedLoss) {
  Dataset tiny = TinyDataset();
  auto model = Make(kLogReg, kTinyShape);
  // W = 0, b = (0, beta, 0): every sample is predicted as class 1.
  const double beta = 2.0;
  std::vector<float> params(9, 0.0f);
  params[7] = static_cast<float>(beta);
  EvalStats all = Evaluate(*model, params, tiny, 0);
  EXPECT_EQ(all.samples, 4);
  EXPECT_DOUBLE_EQ(all.accuracy, 0.5);
  const double z = std::exp(beta) + 2;
  const double loss_1 = std::log(z) - beta;  // label 1
  const double loss_other = std::log(z);     // labels 0 and 2
  EXPECT_NEAR(all.loss, (2 * loss_1 + 2 * loss_other) / 4, 1e-6);
  EvalStats first = Evaluate(*model, params, tiny, 1);  // label 0 only
  EXPECT_EQ(first.samples, 1);
  EXPECT_DOUBLE_EQ(first.accuracy, 0.0);
  EXPECT_NEAR(first.loss, loss_other, 1e-6);
  EXPECT_EQ(Evaluate(*model, params, tiny, 100).samples, 4);
}

TEST_F(LearnerTest, EvaluateAgreesWithTrainingForwardPass) {
  // Evaluation runs the no-grad forward pass (for the CNN, a different
  // pooling kernel); a full-batch step with lr = 0 reports the training
  // forward pass's loss on the same samples.
  Dataset head = synthetic_->train;
  head.labels.resize(8);
  head.features.resize(8 * head.sample_dim());
  for (const ModelConfig& config : {kLogReg, kMlp, kCnn}) {
    auto model = Make(config);
    OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = 0.0};
    auto learner = MakeLearner(*model, head, Range(8), opt, 8, 14);
    EvalStats eval = Evaluate(*model, learner->params(), head, 0);
    TrainStats train = learner->Train(1);
    EXPECT_NEAR(eval.loss, train.mean_loss, 1e-5 * eval.loss) << model->name();
  }
}

TEST_F(LearnerTest, EvaluateBatchesLargeTestSets) {
  // More samples than one evaluation batch: the result must equal the
  // average of evaluating the two halves.
  SyntheticOptions options;
  options.train_size = 0;
  options.test_size = 1200;
  TrainTestSplit split = MakeSyntheticDataset(options);
  auto model = Make(kLogReg);
  std::vector<float> params(model->num_params());
  Rng rng(1, PeerId{0}, RngPurpose::kTest);
  model->Initialize(params, rng);
  EvalStats all = Evaluate(*model, params, split.test, 0);
  Dataset second = split.test;
  second.labels.erase(second.labels.begin(), second.labels.begin() + 700);
  second.features.erase(second.features.begin(),
                        second.features.begin() + 700 * 784);
  EvalStats head = Evaluate(*model, params, split.test, 700);
  EvalStats tail = Evaluate(*model, params, second, 0);
  EXPECT_EQ(all.samples, 1200);
  EXPECT_NEAR(all.accuracy, (700 * head.accuracy + 500 * tail.accuracy) / 1200,
              1e-12);
  EXPECT_NEAR(all.loss, (700 * head.loss + 500 * tail.loss) / 1200, 1e-6);
}

TEST_F(LearnerTest, ReportsShardBatchAndFlops) {
  auto model = Make(kMlp);
  OptimizerConfig opt;
  auto learner = MakeLearner(*model, synthetic_->train, Range(50), opt, 20, 1);
  EXPECT_EQ(learner->shard_size(), 50);
  EXPECT_EQ(learner->batch_size(), 20);
  EXPECT_DOUBLE_EQ(learner->TrainFlops(7),
                   3.0 * model->forward_flops_per_sample() * 20 * 7);
  // A shard smaller than the batch trains on the whole shard each step.
  auto small = MakeLearner(*model, synthetic_->train, {3, 9, 12}, opt, 20, 1);
  EXPECT_EQ(small->batch_size(), 3);
  EXPECT_EQ(small->Train(4).samples, 12);
}

TEST_F(LearnerTest, EpochVisitsEveryShardSampleOnce) {
  // One sample per class-distinct feature pattern: with lr = 1 and zero
  // weights, a batch-1 step moves bias[label] by exactly 1 - 1/C, so the
  // bias increments reveal which labels each step saw.
  Dataset d;
  d.name = "labels-only";
  d.height = 1;
  d.width = 1;
  d.num_classes = 5;
  d.features = {0, 0, 0, 0, 0};
  d.labels = {0, 1, 2, 3, 4};
  auto model = Make(kLogReg, {.channels = 1, .height = 1, .width = 1,
                              .num_classes = 5});
  OptimizerConfig opt{.kind = OptimizerKind::kSgd, .lr = 1.0};
  auto learner = MakeLearner(*model, d, Range(5), opt, 1, 13);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int> seen(5, 0);
    for (int step = 0; step < 5; ++step) {
      std::fill(learner->params().begin(), learner->params().end(), 0.0f);
      learner->Train(1);
      std::span<const float> bias = learner->params().subspan(5);
      int label = static_cast<int>(
          std::max_element(bias.begin(), bias.end()) - bias.begin());
      EXPECT_NEAR(bias[label], 1.0 - 1.0 / 5, 1e-6);
      ++seen[label];
    }
    EXPECT_EQ(seen, std::vector<int>(5, 1)) << "epoch " << epoch;
  }
}

// FedProx's term adds mu (w - center) to each gradient: with plain SGD one
// step differs from the unregularized step by exactly -lr mu (w - center).
TEST_F(LearnerTest, ProximalTermAddsMuTimesDistanceToTheGradient) {
  std::unique_ptr<Model> model = Make(kLogReg);
  const OptimizerConfig sgd{.lr = 0.1, .momentum = 0.0};
  auto plain = MakeLearner(*model, synthetic_->train, Range(200), sgd, 16, 3);
  auto prox = MakeLearner(*model, synthetic_->train, Range(200), sgd, 16, 3);
  std::vector<float> center = Copy(prox->params());
  for (float& c : center) c += 1.0f;  // w - center = -1 everywhere
  prox->SetProximalTerm(2.0, center);
  plain->Train(1);
  prox->Train(1);
  for (size_t i = 0; i < center.size(); ++i) {
    // -lr * mu * (w - center) = 0.1 * 2 * 1.
    ASSERT_NEAR(prox->params()[i] - plain->params()[i], 0.2f, 1e-5) << i;
  }
  // mu = 0 turns it off again: both now take identical steps.
  prox->SetProximalTerm(0.0, {});
  std::copy(plain->params().begin(), plain->params().end(), prox->params().begin());
  plain->Train(1);
  prox->Train(1);
  EXPECT_TRUE(std::equal(plain->params().begin(), plain->params().end(),
                         prox->params().begin()));
}

TEST_F(LearnerTest, OutputLayerIsTheTailWeightAndBias) {
  auto model = Make(kMlp);  // 784 -> 32 -> 10
  const OutputLayer layer = OutputLayerOf(*model);
  EXPECT_EQ(layer.offset, 784 * 32 + 32);
  EXPECT_EQ(layer.classes, 10);
  EXPECT_EQ(layer.fan_in, 32);
  EXPECT_EQ(layer.size(), 10 * 33);
  EXPECT_EQ(layer.offset + layer.size(), model->num_params());
  const OutputLayer logreg = OutputLayerOf(*Make(kLogReg));
  EXPECT_EQ(logreg.offset, 0);
  EXPECT_EQ(logreg.size(), 7850);
}

// Transfer learning: with only the output layer trainable, the body stays
// bit for bit what it was under every optimizer feature that could move it
// (momentum, Adam moments, weight decay, SAM, a proximal term), and the
// output layer learns.
TEST_F(LearnerTest, FrozenBodyStaysBitIdenticalWhileTheOutputLayerTrains) {
  auto model = Make(kMlp);
  const OutputLayer layer = OutputLayerOf(*model);
  const OptimizerConfig configs[] = {
      {.kind = OptimizerKind::kSgd, .lr = 0.05, .momentum = 0.9, .weight_decay = 0.01},
      {.kind = OptimizerKind::kAdam, .lr = 0.01, .weight_decay = 0.01},
      {.kind = OptimizerKind::kSgd, .lr = 0.05, .momentum = 0.5, .sam_rho = 0.05},
  };
  // A pretrained body under a fresh output layer.
  auto pretrained = MakeLearner(*model, synthetic_->train, Range(2000),
                                {.lr = 0.05, .momentum = 0.9}, 16, 4);
  pretrained->Train(100);
  for (const OptimizerConfig& opt : configs) {
    auto learner = MakeLearner(*model, synthetic_->train, Range(1000), opt, 16, 3);
    std::copy(pretrained->params().begin(), pretrained->params().begin() + layer.offset,
              learner->params().begin());
    learner->SetTrainableRange(layer.offset, layer.size());
    EXPECT_EQ(learner->trainable_offset(), layer.offset);
    EXPECT_EQ(learner->trainable_size(), layer.size());
    const std::vector<float> before = Copy(learner->params());
    learner->SetProximalTerm(1e-3, std::vector<float>(before.size(), 1.0f));
    const double acc_before = Evaluate(*model, learner->params(), synthetic_->test, 0).accuracy;
    learner->Train(60);
    std::span<const float> after = learner->params();
    const auto body = static_cast<size_t>(layer.offset);
    EXPECT_TRUE(std::equal(before.begin(), before.begin() + body, after.begin()))
        << "optimizer kind " << static_cast<int>(opt.kind);
    EXPECT_FALSE(std::equal(before.begin() + body, before.end(), after.begin() + body));
    EXPECT_GT(Evaluate(*model, after, synthetic_->test, 0).accuracy, acc_before + 0.3);
  }
}

TEST_F(LearnerTest, PerClassEvaluationAddsUpToTheAccuracy) {
  auto model = Make(kLogReg);
  auto learner = MakeLearner(*model, synthetic_->train, Range(2000),
                             {.lr = 0.05, .momentum = 0.9}, 16, 2);
  learner->Train(30);
  const ClassAccuracy per_class = EvaluatePerClass(*model, learner->params(), synthetic_->test);
  ASSERT_EQ(per_class.total.size(), 10u);
  int64_t correct = 0;
  int64_t total = 0;
  for (size_t c = 0; c < 10; ++c) {
    EXPECT_LE(per_class.correct[c], per_class.total[c]);
    correct += per_class.correct[c];
    total += per_class.total[c];
  }
  EXPECT_EQ(total, synthetic_->test.size());
  const EvalStats stats = Evaluate(*model, learner->params(), synthetic_->test, 0);
  EXPECT_DOUBLE_EQ(static_cast<double>(correct) / static_cast<double>(total), stats.accuracy);
  // A model with NaN parameters classifies nothing correctly.
  std::vector<float> nan(learner->params().size(), std::nanf(""));
  const ClassAccuracy broken = EvaluatePerClass(*model, nan, synthetic_->test);
  for (size_t c = 0; c < 10; ++c) EXPECT_EQ(broken.correct[c], 0) << c;
}

}  // namespace
}  // namespace murmur
