// DP-SGD's vectorized per-sample gradients (TorchModel::PerSampleGradients,
// learn/per_sample_grad.h): the fast path's clipped sum, clipped count and
// loss sum against the one-sample-at-a-time loop on every model kind that
// has the fast path, several seeds, batch sizes and clip norms, on the full
// and on a partial trainable range; exact values on a hand-differentiated
// logistic regression; non-finite samples; and which kinds fall back.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "learn/dp_sgd.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/text_dataset.h"

namespace murmur {
namespace {

std::unique_ptr<Model> Make(const ModelConfig& config, const InputShape& input) {
  Result<std::unique_ptr<Model>> model = MakeModel(config, input);
  MURMUR_CHECK(model.ok());
  return std::move(model).value();
}

struct Batch {
  at::Tensor x;
  at::Tensor y;
};

Batch RandomBatch(const InputShape& input, int64_t n, uint64_t seed) {
  Rng rng(seed, PeerId(0), RngPurpose::kTest);
  at::Tensor x = at::empty({n, input.channels, input.height, input.width}, at::kFloat);
  at::Tensor y = at::empty({n}, at::kLong);
  float* xd = x.data_ptr<float>();
  for (int64_t i = 0; i < x.numel(); ++i) xd[i] = static_cast<float>(rng.Normal());
  for (int64_t i = 0; i < n; ++i) {
    y.data_ptr<int64_t>()[i] = static_cast<int64_t>(rng.UniformInt(input.num_classes));
  }
  return {x, y};
}

struct Both {
  ClippedSum fast, loop;
  std::vector<float> fast_sum, loop_sum;
};

Both RunBoth(const Model& model, std::vector<float>& params, const Batch& b, double clip,
             int64_t lo, int64_t hi) {
  at::Tensor p = at::from_blob(params.data(), {model.num_params()}, at::kFloat);
  p.requires_grad_(true);
  Both out;
  out.fast_sum.resize(params.size());
  out.loop_sum.resize(params.size());
  const TorchModel& m = AsTorchModel(model);
  out.fast = ClippedGradientSum(m, p, b.x, b.y, clip, lo, hi, out.fast_sum, PerSampleMode::kFast);
  out.loop = ClippedGradientSum(m, p, b.x, b.y, clip, lo, hi, out.loop_sum, PerSampleMode::kLoop);
  return out;
}

// Tolerance: 1e-5 relative to the largest coordinate of the loop's sum
// (float rounding of another summation order), on every coordinate.
void ExpectSameSum(const Both& r, const std::string& what) {
  double max_err = 0, max_abs = 0;
  for (size_t k = 0; k < r.loop_sum.size(); ++k) {
    max_err = std::max(max_err, static_cast<double>(std::fabs(r.fast_sum[k] - r.loop_sum[k])));
    max_abs = std::max(max_abs, static_cast<double>(std::fabs(r.loop_sum[k])));
  }
  EXPECT_GT(max_abs, 0) << what;
  EXPECT_LE(max_err, 1e-5 * max_abs) << what;
  EXPECT_EQ(r.fast.clipped, r.loop.clipped) << what;
  EXPECT_NEAR(r.fast.loss_sum, r.loop.loss_sum, 1e-5 * std::fabs(r.loop.loss_sum)) << what;
}

TEST(PerSampleGradients, FastPathMatchesTheLoopOnEveryKindWithAFastPath) {
  ConfigureTorchThreads(1);
  const InputShape image{.channels = 1, .height = 28, .width = 28, .num_classes = 10};
  const ModelConfig kinds[] = {{.kind = ModelKind::kLogisticRegression},
                               {.kind = ModelKind::kMlp, .hidden = {32, 16}},
                               {.kind = ModelKind::kCnn}};
  int64_t partly_clipped = 0;  // cases where some but not all samples were clipped
  for (const ModelConfig& config : kinds) {
    auto model = Make(config, image);
    const ParamTensor last = model->tensors()[model->tensors().size() - 2];
    for (uint64_t seed : {1, 2, 3}) {
      std::vector<float> params(model->num_params());
      Rng init(seed, PeerId(0), RngPurpose::kInit);
      model->Initialize(params, init);
      for (int64_t n : {1, 7, 33}) {
        const Batch b = RandomBatch(image, n, seed * 100 + n);
        // Full range at clips from "every sample" to "none", then only the
        // output layer trainable (norms over [lo, hi), zero elsewhere).
        for (double clip : {0.05, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
          const Both r = RunBoth(*model, params, b, clip, 0, model->num_params());
          ExpectSameSum(r, model->name() + " seed " + std::to_string(seed) + " n " +
                               std::to_string(n) + " clip " + std::to_string(clip));
          if (r.loop.clipped > 0 && r.loop.clipped < n) ++partly_clipped;
        }
        const Both r = RunBoth(*model, params, b, 0.5, last.offset, model->num_params());
        ExpectSameSum(r, model->name() + " output layer, seed " + std::to_string(seed));
        for (int64_t k = 0; k < last.offset; ++k) ASSERT_EQ(r.fast_sum[k], 0.0f);
      }
    }
  }
  EXPECT_GE(partly_clipped, 3);
  // A batch above the fast path's chunk of 256 samples, and one over only
  // part of the first layer's weight (materialized, not factored).
  auto logreg = Make({.kind = ModelKind::kLogisticRegression}, image);
  std::vector<float> params(logreg->num_params());
  Rng init(4, PeerId(0), RngPurpose::kInit);
  logreg->Initialize(params, init);
  const Batch big = RandomBatch(image, 300, 4);
  ExpectSameSum(RunBoth(*logreg, params, big, 1.0, 0, logreg->num_params()), "logreg, 300");
  ExpectSameSum(RunBoth(*logreg, params, big, 0.3, 1000, 7845), "logreg, partial range");
}

// At zero weights every softmax is 1/3, so sample (x, y) has the gradient
// e x^T for the weight [3 x 2] and e for the bias, e = 1/3 - onehot(y), and
// ||g||^2 = 2/3 (||x||^2 + 1): norms 2, sqrt(4/3), sqrt(20/3) and 2. With
// C = 1.5 samples 0, 2 and 3 are scaled by C/||g||. Both modes.
TEST(PerSampleGradients, HandDifferentiatedLogisticRegressionInBothModes) {
  ConfigureTorchThreads(1);
  auto model = Make({.kind = ModelKind::kLogisticRegression},
                    {.channels = 1, .height = 1, .width = 2, .num_classes = 3});
  std::vector<float> params(9, 0.0f);
  const float xs[8] = {1, 2, 0, -1, 3, 0, -2, 1};
  const int64_t ys[4] = {0, 1, 1, 2};
  const Batch b{at::from_blob(const_cast<float*>(xs), {4, 1, 1, 2}, at::kFloat).clone(),
                at::from_blob(const_cast<int64_t*>(ys), {4}, at::kLong).clone()};
  const double t = 1.0 / 3.0;
  const double e[4][3] = {{-2 * t, t, t}, {t, -2 * t, t}, {t, -2 * t, t}, {t, t, -2 * t}};
  const double scale[4] = {0.75, 1.0, 1.5 / std::sqrt(20.0 / 3.0), 0.75};
  std::vector<double> expected(9, 0.0);
  for (int i = 0; i < 4; ++i) {
    for (int c = 0; c < 3; ++c) {
      expected[2 * c] += scale[i] * e[i][c] * xs[2 * i];
      expected[2 * c + 1] += scale[i] * e[i][c] * xs[2 * i + 1];
      expected[6 + c] += scale[i] * e[i][c];
    }
  }
  at::Tensor losses;
  at::Tensor p = at::from_blob(params.data(), {9}, at::kFloat);
  std::vector<PerSampleLayerGrad> layers;
  ASSERT_TRUE(AsTorchModel(*model).PerSampleGradients(p, b.x, b.y, &layers, &losses));
  const at::Tensor g = MaterializePerSampleGrads(layers);
  ASSERT_EQ(g.size(0), 4);
  ASSERT_EQ(g.size(1), 9);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(g[i][0].item<double>(), e[i][0] * xs[2 * i], 1e-7);
    EXPECT_NEAR(g[i][8].item<double>(), e[i][2], 1e-7);
    EXPECT_NEAR(losses[i].item<double>(), std::log(3.0), 1e-6);
  }
  const Both r = RunBoth(*model, params, b, 1.5, 0, 9);
  for (int k = 0; k < 9; ++k) {
    EXPECT_NEAR(r.fast_sum[k], expected[k], 1e-6) << "coordinate " << k;
    EXPECT_NEAR(r.loop_sum[k], expected[k], 1e-6) << "coordinate " << k;
  }
  EXPECT_EQ(r.fast.clipped, 3);
  EXPECT_EQ(r.loop.clipped, 3);
}

// A sample with an infinite feature has a NaN gradient: both modes count it
// as clipped and leave it out of the sum, which is the other samples' sum.
TEST(PerSampleGradients, NonFiniteSamplesAreDroppedInBothModes) {
  ConfigureTorchThreads(1);
  const InputShape input{.channels = 1, .height = 2, .width = 3, .num_classes = 4};
  auto model = Make({.kind = ModelKind::kMlp, .hidden = {5}}, input);
  std::vector<float> params(model->num_params());
  Rng init(7, PeerId(0), RngPurpose::kInit);
  model->Initialize(params, init);
  Batch b = RandomBatch(input, 6, 4);
  const Both clean = RunBoth(*model, params, {b.x.narrow(0, 0, 5), b.y.narrow(0, 0, 5)}, 0.5, 0,
                             model->num_params());
  b.x[5][0][0][1] = std::numeric_limits<float>::infinity();
  const Both r = RunBoth(*model, params, b, 0.5, 0, model->num_params());
  EXPECT_EQ(r.fast.clipped, clean.fast.clipped + 1);
  EXPECT_EQ(r.loop.clipped, clean.loop.clipped + 1);
  for (size_t k = 0; k < params.size(); ++k) {
    EXPECT_NEAR(r.fast_sum[k], clean.loop_sum[k], 1e-6);
    EXPECT_NEAR(r.loop_sum[k], clean.loop_sum[k], 1e-6);
  }
}

// The character MLP: its embedding table's per-sample gradient is formed
// from the gradients at the context positions, scattered into the rows of
// their tokens. Contexts that repeat a token (ids 0..9 over 6 positions)
// check that both positions' shares add up. Against the loop, as above.
TEST(PerSampleGradients, CharMlpFastPathMatchesTheLoop) {
  ConfigureTorchThreads(1);
  const InputShape text{.channels = 1, .height = 1, .width = 6, .num_classes = kCharVocabSize};
  auto model = Make({.kind = ModelKind::kCharMlp, .hidden = {8}, .embedding_dim = 3}, text);
  std::vector<float> params(model->num_params());
  Rng init(1, PeerId(0), RngPurpose::kInit);
  model->Initialize(params, init);
  for (uint64_t seed : {3, 4, 5}) {
    Batch b = RandomBatch(text, 9, seed);
    b.x = (b.x.abs() * 4).floor().clamp(0, 9);
    at::Tensor losses;
    at::Tensor p = at::from_blob(params.data(), {model->num_params()}, at::kFloat);
    std::vector<PerSampleLayerGrad> layers;
    ASSERT_TRUE(AsTorchModel(*model).PerSampleGradients(p, b.x, b.y, &layers, &losses));
    ASSERT_EQ(layers.size(), 3u);  // embedding, hidden, output
    for (double clip : {0.05, 0.5, std::numeric_limits<double>::infinity()}) {
      ExpectSameSum(RunBoth(*model, params, b, clip, 0, model->num_params()),
                    "charmlp seed " + std::to_string(seed) + " clip " + std::to_string(clip));
    }
    // Only the embedding table trainable (a materialized layer's range).
    ExpectSameSum(RunBoth(*model, params, b, 0.5, 0, kCharVocabSize * 3),
                  "charmlp embedding only, seed " + std::to_string(seed));
  }
}

// A model with no vectorized path (the ResNet: group norm mixes a sample's
// positions, not its batch, but is not written out here): PerSampleGradients
// returns false and kFast gives the loop's result exactly (it is the loop).
TEST(PerSampleGradients, ModelsWithoutAFastPathFallBackToTheLoop) {
  ConfigureTorchThreads(1);
  const InputShape image{.channels = 1, .height = 8, .width = 8, .num_classes = 3};
  ModelConfig config{.kind = ModelKind::kResNet};
  config.resnet.depth = 8;
  config.resnet.width = 0.25;
  config.resnet.groups = 2;
  auto model = Make(config, image);
  std::vector<float> params(model->num_params());
  Rng init(1, PeerId(0), RngPurpose::kInit);
  model->Initialize(params, init);
  const Batch b = RandomBatch(image, 3, 3);
  at::Tensor losses;
  at::Tensor p = at::from_blob(params.data(), {model->num_params()}, at::kFloat);
  std::vector<PerSampleLayerGrad> layers;
  EXPECT_FALSE(AsTorchModel(*model).PerSampleGradients(p, b.x, b.y, &layers, &losses));
  const Both r = RunBoth(*model, params, b, 0.5, 0, model->num_params());
  EXPECT_EQ(r.fast_sum, r.loop_sum);
  EXPECT_EQ(r.fast.clipped, r.loop.clipped);
}

}  // namespace
}  // namespace murmur
