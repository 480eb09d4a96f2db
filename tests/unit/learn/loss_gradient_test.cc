// TorchModel::LossAndGradient, Learner::Train's path around the autograd
// engine: its loss and gradient must be the engine's bit for bit, or every
// run's results would move.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "learn/torch_model.h"
#include "murmur/core/rng.h"

namespace murmur {
namespace {

std::unique_ptr<Model> Make(ModelConfig config, InputShape input) {
  Result<std::unique_ptr<Model>> model = MakeModel(config, input);
  MURMUR_CHECK(model.ok());
  return std::move(model).value();
}

struct Case {
  InputShape input;
  int64_t batch;
};

TEST(LossAndGradient, LogisticRegressionMatchesTheAutogradEngineBitForBit) {
  const std::vector<Case> cases = {
      {{.channels = 1, .height = 28, .width = 28, .num_classes = 10}, 8},
      {{.channels = 1, .height = 28, .width = 28, .num_classes = 10}, 1},
      {{.channels = 1, .height = 28, .width = 28, .num_classes = 10}, 16},
      {{.channels = 3, .height = 32, .width = 32, .num_classes = 10}, 5},
      {{.channels = 1, .height = 3, .width = 5, .num_classes = 4}, 3},
  };
  for (const Case& c : cases) {
    const auto model = Make({.kind = ModelKind::kLogisticRegression}, c.input);
    const TorchModel& torch_model = AsTorchModel(*model);
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      Rng rng(seed, PeerId(0), RngPurpose::kTest);
      std::vector<float> params(static_cast<size_t>(model->num_params()));
      model->Initialize(params, rng);
      // Some training has happened: the parameters are not the initial draw.
      for (float& v : params) v += 0.1f * static_cast<float>(rng.Normal());
      at::Tensor x = at::empty({c.batch, c.input.channels, c.input.height, c.input.width});
      float* xd = x.data_ptr<float>();
      for (int64_t i = 0; i < x.numel(); ++i) xd[i] = static_cast<float>(rng.Uniform());
      at::Tensor y = at::empty({c.batch}, at::kLong);
      for (int64_t i = 0; i < c.batch; ++i) {
        y.data_ptr<int64_t>()[i] = static_cast<int64_t>(rng.UniformInt(c.input.num_classes));
      }
      const at::Tensor p = at::from_blob(params.data(), {model->num_params()}, at::kFloat);
      at::Tensor loss, grad;
      ASSERT_TRUE(torch_model.LossAndGradient(p, x, y, &loss, &grad));

      at::Tensor q = p.clone().requires_grad_(true);
      at::Tensor want_loss = at::cross_entropy_loss(torch_model.Forward(q, x), y);
      want_loss.backward();
      const at::Tensor want_grad = q.grad().contiguous();
      ASSERT_EQ(grad.numel(), want_grad.numel());
      ASSERT_TRUE(grad.is_contiguous());
      EXPECT_EQ(std::memcmp(grad.data_ptr<float>(), want_grad.data_ptr<float>(),
                            sizeof(float) * static_cast<size_t>(grad.numel())),
                0)
          << "seed " << seed << ", batch " << c.batch;
      const float got = loss.item<float>();
      const float want = want_loss.item<float>();
      EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << got << " vs " << want;
    }
  }
}

TEST(LossAndGradient, OtherModelsUseTheEngine) {
  const InputShape input{.channels = 1, .height = 28, .width = 28, .num_classes = 10};
  for (const ModelConfig& config : {ModelConfig{.kind = ModelKind::kMlp, .hidden = {16}},
                                    ModelConfig{.kind = ModelKind::kCnn}}) {
    const auto model = Make(config, input);
    at::Tensor p = at::zeros({model->num_params()});
    at::Tensor loss, grad;
    EXPECT_FALSE(AsTorchModel(*model).LossAndGradient(p, at::zeros({2, 1, 28, 28}),
                                                      at::zeros({2}, at::kLong), &loss, &grad));
    EXPECT_FALSE(loss.defined());
  }
}

}  // namespace
}  // namespace murmur
