// The CIFAR ResNet with group norm (model.kind = "resnet"): parameter counts
// by the paper's layer formula, output shapes on CIFAR- and MNIST-sized
// inputs, an exact forward pass through the option-A shortcuts, and a small
// network that learns.
#include "learn/resnet_model.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "learn/torch_model.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"

namespace murmur {
namespace {

ModelConfig ResNet(int64_t depth, double width = 1.0, int64_t groups = 2) {
  return ModelConfig{.kind = ModelKind::kResNet,
                     .resnet = {.depth = depth, .width = width, .groups = groups}};
}

std::unique_ptr<Model> Make(const ModelConfig& config, const InputShape& input) {
  Result<std::unique_ptr<Model>> model = MakeModel(config, input);
  MURMUR_CHECK(model.ok());
  return std::move(model).value();
}

const InputShape kCifar{.channels = 3, .height = 32, .width = 32, .num_classes = 10};
const InputShape kFashion{.channels = 1, .height = 28, .width = 28, .num_classes = 10};

TEST(ResNetModel, ResNet20HasTheHandCountedParameters) {
  // stem 3->16: 432 + GN 32; stage 1: 3 blocks x 2 x (2304 + 32) = 14016;
  // stage 2: 4608 + 64 + 9216 + 64 + 2 x 2 x (9216 + 64) = 51072;
  // stage 3: 18432 + 128 + 36864 + 128 + 2 x 2 x (36864 + 128) = 203520;
  // output 64 x 10 + 10 = 650.
  const int64_t expected = 432 + 32 + 14016 + 51072 + 203520 + 650;
  EXPECT_EQ(expected, 269722);
  auto cifar = Make(ResNet(20), kCifar);
  EXPECT_EQ(cifar->num_params(), expected);
  EXPECT_EQ(ResNetParamCount(20, 3, 10, 16), expected);
  EXPECT_EQ(cifar->name(), "resnet20-gn2");
  // One input channel: the stem loses 2 x 16 x 9 weights.
  auto fashion = Make(ResNet(20), kFashion);
  EXPECT_EQ(fashion->num_params(), expected - 2 * 16 * 9);
  // The formula and the model agree across depths and widths.
  for (int64_t depth : {8, 14, 32, 56}) {
    for (double width : {0.5, 1.0, 2.0}) {
      auto model = Make(ResNet(depth, width, 4), kCifar);
      EXPECT_EQ(model->num_params(), ResNetParamCount(depth, 3, 10, static_cast<int64_t>(16 * width)))
          << "depth " << depth << " width " << width;
    }
  }
}

TEST(ResNetModel, TensorsTileTheBufferAndEndWithTheOutputLayer) {
  auto model = Make(ResNet(8, 0.5), kFashion);
  const std::vector<ParamTensor> tensors = model->tensors();
  // stem + 3 stages x 1 block x 2 convs = 7 conv+norm triples, then the head.
  ASSERT_EQ(tensors.size(), 7u * 3 + 2);
  int64_t offset = 0;
  for (const ParamTensor& t : tensors) {
    EXPECT_EQ(t.offset, offset);
    offset += t.size;
  }
  EXPECT_EQ(offset, model->num_params());
  const OutputLayer head = OutputLayerOf(*model);
  EXPECT_EQ(head.classes, 10);
  EXPECT_EQ(head.fan_in, 32);  // 4 x (16 x 0.5) channels
}

TEST(ResNetModel, LogitsHaveOneRowPerSampleOnAnyImageSize) {
  Rng rng(3, PeerId(0), RngPurpose::kInit);
  for (const InputShape& input :
       {kCifar, kFashion, InputShape{.channels = 2, .height = 7, .width = 9, .num_classes = 4},
        InputShape{.channels = 1, .height = 1, .width = 1, .num_classes = 3}}) {
    auto model = Make(ResNet(8, 0.5), input);
    std::vector<float> params(static_cast<size_t>(model->num_params()));
    model->Initialize(params, rng);
    at::Tensor p = at::from_blob(params.data(), {model->num_params()}, at::kFloat);
    at::Tensor x = at::randn({5, input.channels, input.height, input.width});
    at::Tensor logits = AsTorchModel(*model).Forward(p, x);
    EXPECT_EQ(logits.sizes().vec(), (std::vector<int64_t>{5, input.num_classes}));
    EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
  }
}

// With every conv weight, norm scale and shift zero except the stem's
// shifts v, the stem outputs relu(v) everywhere, every block adds zero to
// its shortcut, and the stride-2 shortcuts subsample (a constant map stays
// constant) and zero-pad the new channels: the pooled features are
// (v_0 .. v_{c-1}, 0, ..., 0) and the logits W f + b exactly.
TEST(ResNetModel, ZeroBlocksPassTheStemThroughOptionAShortcuts) {
  auto model = Make(ResNet(14, 0.25), kFashion);  // c1 = 4, c3 = 16
  std::vector<float> params(static_cast<size_t>(model->num_params()), 0.0f);
  const std::vector<ParamTensor> t = model->tensors();
  const int64_t c1 = 4;
  const int64_t c3 = 16;
  for (int64_t c = 0; c < c1; ++c) params[t[2].offset + c] = 0.5f * static_cast<float>(c + 1);
  const OutputLayer head = OutputLayerOf(*model);
  for (int64_t i = 0; i < head.size(); ++i) {
    params[head.offset + i] = 0.01f * static_cast<float>(i % 7) - 0.02f;
  }
  std::vector<float> expected(10);
  for (int64_t k = 0; k < 10; ++k) {
    double z = params[head.offset + 10 * c3 + k];
    for (int64_t c = 0; c < c1; ++c) z += params[head.offset + k * c3 + c] * 0.5 * (c + 1);
    expected[k] = static_cast<float>(z);
  }
  at::Tensor p = at::from_blob(params.data(), {model->num_params()}, at::kFloat);
  at::Tensor logits = AsTorchModel(*model).Forward(p, at::randn({2, 1, 28, 28})).contiguous();
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t k = 0; k < 10; ++k) {
      EXPECT_NEAR(logits[row][k].item<float>(), expected[k], 1e-6) << row << "," << k;
    }
  }
}

// Group norm right after the bias-free stem conv makes the network blind to
// the input's scale (up to the norm's epsilon): a property batch norm with
// fixed statistics does not have.
TEST(ResNetModel, GroupNormMakesTheOutputInvariantToInputScale) {
  auto model = Make(ResNet(8, 0.5), kCifar);
  std::vector<float> params(static_cast<size_t>(model->num_params()));
  Rng rng(4, PeerId(0), RngPurpose::kInit);
  model->Initialize(params, rng);
  at::Tensor p = at::from_blob(params.data(), {model->num_params()}, at::kFloat);
  at::Tensor x = at::randn({3, 3, 32, 32});
  const TorchModel& net = AsTorchModel(*model);
  at::Tensor a = net.Forward(p, x);
  at::Tensor b = net.Forward(p, x * 7.0);
  EXPECT_LT((a - b).abs().max().item<float>(), 1e-3);
  EXPECT_GT((a - net.Forward(p, x + 1.0)).abs().max().item<float>(), 1e-3);
}

TEST(ResNetModel, RejectsDepthsThatAreNot6nPlus2AndGroupsThatDoNotDivide) {
  for (int64_t depth : {0, 2, 7, 9, 19, 21}) {
    Result<std::unique_ptr<Model>> bad = MakeModel(ResNet(depth), kCifar);
    ASSERT_FALSE(bad.ok()) << depth;
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("is not 6n + 2"), std::string::npos)
        << bad.status().message();
  }
  EXPECT_FALSE(MakeModel(ResNet(20, 1.0, 3), kCifar).ok());  // 3 does not divide 16
  EXPECT_FALSE(MakeModel(ResNet(20, 0.0), kCifar).ok());
  EXPECT_TRUE(MakeModel(ResNet(20, 1.0, 16), kCifar).ok());
}

// A ResNet-8 (8 channels) trained 100 SGD steps on 600 generated 12x12
// images: its test loss falls well below the untrained network's, measured
// on the same test set, and its accuracy clears the untrained one's (chance)
// by far. Measured: loss 2.35 -> 1.51, accuracy 0.09 -> 0.47.
TEST(ResNetModel, SmallResNetLearnsGeneratedImages) {
  ConfigureTorchThreads(1);
  const TrainTestSplit data = MakeSyntheticDataset(
      {.train_size = 600, .test_size = 300, .height = 12, .width = 12, .noise = 0.5, .seed = 7});
  auto model = Make(ResNet(8, 0.5),
                    {.channels = 1, .height = 12, .width = 12, .num_classes = 10});
  std::vector<int64_t> shard(600);
  std::iota(shard.begin(), shard.end(), 0);
  Learner learner(*model, data.train, shard, {.kind = OptimizerKind::kSgd, .lr = 0.05, .momentum = 0.9},
                  32, Rng(7, PeerId(0), RngPurpose::kInit), Rng(7, PeerId(0), RngPurpose::kBatch));
  const EvalStats before = Evaluate(*model, learner.params(), data.test, 0);
  learner.Train(100);
  const EvalStats after = Evaluate(*model, learner.params(), data.test, 0);
  RecordProperty("loss_before", std::to_string(before.loss));
  RecordProperty("loss_after", std::to_string(after.loss));
  EXPECT_LT(after.loss, 0.8 * before.loss) << before.loss << " -> " << after.loss;
  EXPECT_GT(after.accuracy, before.accuracy + 0.25) << before.accuracy << " -> " << after.accuracy;
}

}  // namespace
}  // namespace murmur
