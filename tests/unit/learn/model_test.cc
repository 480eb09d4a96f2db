#include "murmur/learn/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace murmur {
namespace {

std::unique_ptr<Model> Make(ModelConfig config, InputShape input = {}) {
  Result<std::unique_ptr<Model>> model = MakeModel(config, input);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

const ModelConfig kLogReg{.kind = ModelKind::kLogisticRegression};
const ModelConfig kMlp{.kind = ModelKind::kMlp, .hidden = {128}};
const ModelConfig kCnn{.kind = ModelKind::kCnn};

TEST(MakeModel, LogisticRegressionParamsAndFlops) {
  auto model = Make(kLogReg);
  EXPECT_EQ(model->num_params(), 784 * 10 + 10);  // 7850
  EXPECT_DOUBLE_EQ(model->forward_flops_per_sample(), 2.0 * 784 * 10);
}

TEST(MakeModel, MlpParamsAndFlops) {
  auto model = Make(kMlp);
  EXPECT_EQ(model->num_params(), 101770);  // 784*128+128 + 128*10+10
  EXPECT_DOUBLE_EQ(model->forward_flops_per_sample(),
                   2.0 * (784 * 128 + 128 * 10));
  auto deep = Make({.kind = ModelKind::kMlp, .hidden = {256, 64}});
  EXPECT_EQ(deep->num_params(),
            784 * 256 + 256 + 256 * 64 + 64 + 64 * 10 + 10);  // 218058
}

TEST(MakeModel, CnnParamsAndFlops) {
  auto model = Make(kCnn);
  // conv1 1->6 5x5: 156; conv2 6->16 5x5: 2416; 28->28->14->10->5, so fc1
  // is 400->120: 48120; fc2 120->84: 10164; fc3 84->10: 850.
  EXPECT_EQ(model->num_params(), 156 + 2416 + 48120 + 10164 + 850);  // 61706
  // conv1: 25 MACs x 6 channels x 28x28; conv2: 150 x 16 x 10x10.
  EXPECT_DOUBLE_EQ(model->forward_flops_per_sample(),
                   2.0 * (25 * 6 * 784 + 150 * 16 * 100 + 400 * 120 +
                          120 * 84 + 84 * 10));
  // CIFAR-sized input: 3 channels, 32->32->16->12->6, so fc1 is 576->120.
  auto cifar = Make(kCnn, {.channels = 3, .height = 32, .width = 32});
  EXPECT_EQ(cifar->num_params(),
            (6 * 75 + 6) + 2416 + (576 * 120 + 120) + 10164 + 850);  // 83126
}

TEST(MakeModel, RejectsInvalidConfigs) {
  auto code = [](ModelConfig config, InputShape input = {}) {
    return MakeModel(config, input).status().code();
  };
  const StatusCode kBad = StatusCode::kInvalidArgument;
  EXPECT_EQ(code({.kind = ModelKind::kMlp, .hidden = {}}), kBad);
  EXPECT_EQ(code({.kind = ModelKind::kMlp, .hidden = {64, 0}}), kBad);
  EXPECT_EQ(code({.kind = ModelKind::kMlp, .hidden = {-5}}), kBad);
  EXPECT_EQ(code(kCnn, {.height = 8, .width = 28}), kBad);
  EXPECT_EQ(code(kCnn, {.height = 28, .width = 11}), kBad);
  EXPECT_EQ(code(kCnn, {.height = 12, .width = 12}), StatusCode::kOk);
  EXPECT_EQ(code(kLogReg, {.channels = 0}), kBad);
  EXPECT_EQ(code(kLogReg, {.num_classes = 0}), kBad);
}

TEST(MakeModel, NamesSayWhatTheModelIs) {
  EXPECT_EQ(Make(kLogReg)->name(), "logreg");
  EXPECT_EQ(Make({.kind = ModelKind::kMlp, .hidden = {256, 64}})->name(),
            "mlp-256-64");
  EXPECT_EQ(Make(kCnn)->name(), "lenet5");
}

// Checks that params[begin, begin+count) lie in +-bound and fill it roughly
// uniformly (U(-b, b) has variance b^2/3).
void ExpectUniformInBound(const std::vector<float>& params, size_t begin,
                          size_t count, double bound) {
  double sum = 0, sum_sq = 0, max_abs = 0;
  for (size_t i = begin; i < begin + count; ++i) {
    ASSERT_LE(std::abs(params[i]), bound) << "index " << i;
    sum += params[i];
    sum_sq += static_cast<double>(params[i]) * params[i];
    max_abs = std::max(max_abs, static_cast<double>(std::abs(params[i])));
  }
  const double n = static_cast<double>(count);
  EXPECT_NEAR(sum / n, 0.0, 4 * bound / std::sqrt(3 * n));
  EXPECT_NEAR(sum_sq / n, bound * bound / 3, 0.1 * bound * bound);
  EXPECT_GT(max_abs, 0.9 * bound);
}

TEST(ModelInitialize, MlpLayersFollowPyTorchDefaultBounds) {
  auto model = Make(kMlp);
  std::vector<float> params(model->num_params());
  Rng rng(3, PeerId{1}, RngPurpose::kInit);
  model->Initialize(params, rng);
  // Layer 1 (weight + bias) has fan_in 784, layer 2 has fan_in 128.
  ExpectUniformInBound(params, 0, 784 * 128, 1.0 / 28);
  ExpectUniformInBound(params, 784 * 128, 128, 1.0 / 28);
  ExpectUniformInBound(params, 784 * 128 + 128, 128 * 10,
                       1.0 / std::sqrt(128.0));
}

TEST(ModelInitialize, CnnLayersFollowPyTorchDefaultBounds) {
  auto model = Make(kCnn);
  std::vector<float> params(model->num_params());
  Rng rng(3, PeerId{1}, RngPurpose::kInit);
  model->Initialize(params, rng);
  ExpectUniformInBound(params, 0, 150, 1.0 / 5);               // conv1
  ExpectUniformInBound(params, 156, 2400, 1.0 / std::sqrt(150.0));  // conv2
  ExpectUniformInBound(params, 156 + 2416, 48000, 1.0 / 20);   // fc1
}

TEST(ModelInitialize, IsDeterministicInRng) {
  auto model = Make(kMlp);
  std::vector<float> a(model->num_params()), b(a.size()), c(a.size());
  Rng rng_a(9, PeerId{4}, RngPurpose::kInit);
  Rng rng_b(9, PeerId{4}, RngPurpose::kInit);
  Rng rng_c(9, PeerId{5}, RngPurpose::kInit);
  model->Initialize(a, rng_a);
  model->Initialize(b, rng_b);
  model->Initialize(c, rng_c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace murmur
