// model.kind = "torchscript": models made with Debian's python3-torch
// (torch.jit.script + torch.jit.save), loaded by LibTorch, trained over the
// flat buffer. Skipped, saying so, where /usr/bin/python3 has no torch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "learn/dp_sgd.h"
#include "learn/torch_model.h"
#include "murmur/learn/model.h"
#include "testing/data_files.h"

namespace murmur {
namespace {

using ::testing::HasSubstr;

// Writes the test's models into `dir` with python3-torch; false when torch
// is missing.
bool MakeModels(const std::string& dir) {
  if (std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) return false;
  const std::string script = R"(
import sys, torch
from torch import nn
d = sys.argv[1]
net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
with torch.no_grad():
    net[1].weight.copy_(torch.arange(12, dtype=torch.float32).reshape(3, 4) / 10)
    net[1].bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
torch.jit.save(torch.jit.script(net), d + '/linear.pt')
torch.jit.save(torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(4, 5))), d + '/five.pt')
torch.jit.save(torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(6, 3))), d + '/six.pt')
torch.save(net.state_dict(), d + '/state_dict.pt')
)";
  testing::WriteText(dir + "/make.py", script);
  return std::system(("/usr/bin/python3 " + dir + "/make.py " + dir).c_str()) == 0;
}

// The models are made once for the suite (python3 + torch takes seconds).
class TorchScriptModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(std::filesystem::temp_directory_path() /
                           ("murmur_torchscript_" + std::to_string(getpid())));
    std::filesystem::create_directories(*dir_);
    made_ = MakeModels(*dir_);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
  }
  void SetUp() override {
    if (!made_) GTEST_SKIP() << "/usr/bin/python3 has no torch (python3-torch)";
  }
  static std::string File(const std::string& name) { return *dir_ + "/" + name; }

  static std::string* dir_;
  static bool made_;
};
std::string* TorchScriptModel::dir_ = nullptr;
bool TorchScriptModel::made_ = false;

constexpr InputShape kInput{.channels = 1, .height = 2, .width = 2, .num_classes = 3};

Result<std::unique_ptr<Model>> Load(const std::string& path) {
  return MakeModel(ModelConfig{.kind = ModelKind::kTorchScript, .path = path}, kInput);
}

TEST_F(TorchScriptModel, ExposesTheSavedParametersAsTheFlatBufferAndTrainsThroughIt) {
  Result<std::unique_ptr<Model>> model = Load(File("linear.pt"));
  ASSERT_TRUE(model.ok()) << model.status().message();
  ASSERT_EQ((*model)->num_params(), 15);
  std::vector<float> params(15);
  Rng rng(1, PeerId{0}, RngPurpose::kInit);
  (*model)->Initialize(params, rng);
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(params[i], static_cast<float>(i) / 10) << i;
  EXPECT_EQ(std::vector<float>(params.begin() + 12, params.end()), (std::vector<float>{1, 2, 3}));
  const OutputLayer head = OutputLayerOf(**model);
  EXPECT_EQ(head.offset, 0);
  EXPECT_EQ(head.classes, 3);
  EXPECT_EQ(head.fan_in, 4);

  // Forward from the buffer, not from the file: zero the weights' first row.
  params[0] = params[1] = params[2] = params[3] = 0;
  at::Tensor flat = at::from_blob(params.data(), {15}, at::kFloat).clone().requires_grad_(true);
  at::Tensor x = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({1, 1, 2, 2});
  at::Tensor logits = AsTorchModel(**model).Forward(flat, x);
  ASSERT_EQ(logits.sizes().vec(), (std::vector<int64_t>{1, 3}));
  // Row 1: 0.4*1 + 0.5*2 + 0.6*3 + 0.7*4 + 2 = 8; row 2: 0.8+1.8+3+4.4+3 = 13.
  EXPECT_FLOAT_EQ(logits[0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(logits[0][1].item<float>(), 8.0f);
  EXPECT_FLOAT_EQ(logits[0][2].item<float>(), 13.0f);
  // d(sum of logit 2)/d(flat): x for row 2's weights, 1 for its bias.
  logits[0][2].backward();
  at::Tensor grad = flat.grad();
  ASSERT_TRUE(grad.defined());
  const std::vector<float> g(grad.data_ptr<float>(), grad.data_ptr<float>() + 15);
  EXPECT_EQ(g, (std::vector<float>{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 1}));
}

TEST_F(TorchScriptModel, ThreadsShareOneModelAndGetTheSameAnswers) {
  std::unique_ptr<Model> model = Load(File("linear.pt")).value();
  std::vector<at::Tensor> outs(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      at::Tensor flat = at::full({15}, static_cast<float>(t));
      for (int k = 0; k < 20; ++k) {
        outs[t] = AsTorchModel(*model).Forward(flat, at::ones({3, 1, 2, 2}));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    // Every weight and bias is t, every input 1: each logit is 4t + t.
    EXPECT_TRUE(at::equal(outs[t], at::full({3, 3}, 5.0f * t))) << t;
  }
}

TEST_F(TorchScriptModel, RefusesFilesThatAreNotTorchScriptOrDoNotFitTheData) {
  testing::WriteText(File("text.pt"), "not a model");
  for (const char* name : {"text.pt", "state_dict.pt"}) {
    Result<std::unique_ptr<Model>> m = Load(File(name));
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(m.status().message(), HasSubstr("is not a TorchScript file")) << name;
    EXPECT_THAT(m.status().message(), HasSubstr(File(name))) << name;
  }
  Result<std::unique_ptr<Model>> five = Load(File("five.pt"));
  EXPECT_EQ(five.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(five.status().message(), HasSubstr("output layer's weight [3, features]"));
  Result<std::unique_ptr<Model>> six = Load(File("six.pt"));
  EXPECT_EQ(six.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(six.status().message(), HasSubstr("forward fails on a 2x1x2x2"));
  Result<std::unique_ptr<Model>> missing = Load(File("absent.pt"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// DP-SGD's per-sample gradients (learn/dp_sgd.h) through a TorchScript
// module: unclipped they sum to the batch gradient; clipped to C, each of
// the three samples contributes exactly C (every gradient here exceeds it).
TEST_F(TorchScriptModel, DpSgdPerSampleGradientsWorkThroughTheModule) {
  std::unique_ptr<Model> model = Load(File("linear.pt")).value();
  std::vector<float> params(15);
  Rng rng(1, PeerId{0}, RngPurpose::kInit);
  model->Initialize(params, rng);
  at::Tensor p = at::from_blob(params.data(), {15}, at::kFloat);
  p.requires_grad_(true);
  at::Tensor x = at::tensor(std::vector<float>{1, 2, 3, 4, -1, 0, 2, 1, 0, 0, 0, 1}).reshape({3, 1, 2, 2});
  at::Tensor y = at::tensor(std::vector<int64_t>{0, 1, 2});
  at::cross_entropy_loss(AsTorchModel(*model).Forward(p, x), y).backward();
  at::Tensor batch = p.grad().clone() * 3;
  p.mutable_grad().reset();
  std::vector<float> sum(15);
  ClippedGradientSum(AsTorchModel(*model), p, x, y, std::numeric_limits<double>::infinity(), 0,
                     15, sum);
  for (int k = 0; k < 15; ++k) EXPECT_NEAR(sum[k], batch[k].item<float>(), 1e-5) << k;
  // Each sample alone, clipped to C = 1e-3: the sum of the three is the sum
  // of their unit directions times C.
  std::vector<float> expected(15, 0.0f);
  for (int i = 0; i < 3; ++i) {
    at::cross_entropy_loss(AsTorchModel(*model).Forward(p, x.narrow(0, i, 1)), y.narrow(0, i, 1))
        .backward();
    at::Tensor g = p.grad().clone();
    p.mutable_grad().reset();
    g = g * (1e-3 / g.norm().item<double>());
    for (int k = 0; k < 15; ++k) expected[k] += g[k].item<float>();
  }
  const ClippedSum out = ClippedGradientSum(AsTorchModel(*model), p, x, y, 1e-3, 0, 15, sum);
  EXPECT_EQ(out.clipped, 3);
  for (int k = 0; k < 15; ++k) EXPECT_NEAR(sum[k], expected[k], 1e-8) << k;
}

}  // namespace
}  // namespace murmur
