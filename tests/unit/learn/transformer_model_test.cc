// The decoder-only transformer (src/learn/transformer_model.h): its
// parameter layout, causal masking, per-position targets, and that it learns
// next-character prediction on the fortunes corpus better than the unigram
// baseline measured in the same test.
#include "learn/transformer_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "learn/torch_model.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/text_dataset.h"

namespace murmur {
namespace {

constexpr int64_t kVocab = kCharVocabSize;

ModelConfig Transformer(TransformerConfig t) {
  return ModelConfig{.kind = ModelKind::kTransformer, .transformer = t};
}

InputShape Window(int64_t context) {
  return InputShape{.channels = 1, .height = 1, .width = context, .num_classes = kVocab};
}

std::unique_ptr<Model> Make(const TransformerConfig& t) {
  Result<std::unique_ptr<Model>> model = MakeModel(Transformer(t), Window(t.context));
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return std::move(model).value();
}

std::vector<float> InitialParams(const Model& model, uint64_t seed) {
  std::vector<float> params(static_cast<size_t>(model.num_params()));
  Rng rng(seed, PeerId(0), RngPurpose::kInit);
  model.Initialize(params, rng);
  return params;
}

at::Tensor Flat(std::vector<float>& params) {
  return at::from_blob(params.data(), {static_cast<int64_t>(params.size())}, at::kFloat);
}

TEST(Transformer, ParameterCountIsTheHandComputedFormula) {
  // V = 97, w = 8, f = 4, T = 5, L = 2. Per block: 2 LayerNorms (4w = 32),
  // qkv 3w*w + 3w = 216, attention output w*w + w = 72, ffn 4w*w + 4w = 288
  // and w*4w + w = 264: 872. Final LayerNorm 16, positions T*w = 40,
  // token embedding V*w = 776, output bias 97, a separate head 776.
  const TransformerConfig separate{.layers = 2, .width = 8, .heads = 2, .context = 5,
                                   .ffn_mult = 4,
                                   .embeddings = TransformerConfig::Embeddings::kSeparate};
  EXPECT_EQ(Make(separate)->num_params(), 2 * 872 + 16 + 40 + 776 + 97 + 776);
  EXPECT_EQ(Make(separate)->num_params(), 3449);
  TransformerConfig tied = separate;
  tied.embeddings = TransformerConfig::Embeddings::kTied;
  EXPECT_EQ(Make(tied)->num_params(), 3449 - 776);
  TransformerConfig sinusoidal = tied;
  sinusoidal.positions = TransformerConfig::Positions::kSinusoidal;
  EXPECT_EQ(Make(sinusoidal)->num_params(), 3449 - 776 - 40);
  // The header's closed form, over other sizes.
  for (int64_t w : {4, 12}) {
    for (int64_t f : {1, 3}) {
      for (int64_t layers : {1, 3}) {
        const TransformerConfig c{.layers = layers, .width = w, .heads = 2, .context = 7,
                                  .ffn_mult = f,
                                  .embeddings = TransformerConfig::Embeddings::kSeparate};
        const int64_t expected = layers * (4 * w * w + 2 * f * w * w + 9 * w + f * w) + 2 * w +
                                 kVocab * w + kVocab + 7 * w + kVocab * w;
        EXPECT_EQ(Make(c)->num_params(), expected) << "w=" << w << " f=" << f;
        EXPECT_EQ(TransformerParamCount(c, kVocab), expected);
      }
    }
  }
}

TEST(Transformer, TensorsTileTheBufferAndEndWithTheHead) {
  for (auto embeddings :
       {TransformerConfig::Embeddings::kTied, TransformerConfig::Embeddings::kSeparate}) {
    std::unique_ptr<Model> model =
        Make({.layers = 2, .width = 8, .heads = 2, .context = 5, .embeddings = embeddings});
    int64_t offset = 0;
    for (const ParamTensor& t : model->tensors()) {
      EXPECT_EQ(t.offset, offset);
      offset += t.size;
    }
    EXPECT_EQ(offset, model->num_params());
    const OutputLayer head = OutputLayerOf(*model);
    EXPECT_EQ(head.classes, kVocab);
    EXPECT_EQ(head.fan_in, 8);
    EXPECT_EQ(head.offset, model->num_params() - kVocab * 9);
  }
}

TEST(Transformer, ChangingAFutureTokenLeavesEveryEarlierLogitBitForBitUnchanged) {
  ConfigureTorchThreads(1);
  for (auto positions :
       {TransformerConfig::Positions::kLearned, TransformerConfig::Positions::kSinusoidal}) {
    const TransformerConfig c{.layers = 2, .width = 16, .heads = 4, .context = 12,
                              .positions = positions};
    std::unique_ptr<Model> model = Make(c);
    std::vector<float> params = InitialParams(*model, 7);
    const TorchModel& torch_model = AsTorchModel(*model);
    Rng rng(3, PeerId(0), RngPurpose::kBatch);
    at::Tensor x = at::empty({3, 1, 1, c.context}, at::kFloat);
    for (int64_t i = 0; i < x.numel(); ++i) {
      x.data_ptr<float>()[i] = static_cast<float>(rng.Uniform() * kVocab);
      x.data_ptr<float>()[i] = std::floor(x.data_ptr<float>()[i]);
    }
    for (int64_t changed : {1, 6, 11}) {
      at::Tensor y = x.clone();
      y.select(3, changed).copy_(x.select(3, changed).add(1).remainder(kVocab));
      at::Tensor a = torch_model.Forward(Flat(params), x).view({3, c.context, kVocab});
      at::Tensor b = torch_model.Forward(Flat(params), y).view({3, c.context, kVocab});
      EXPECT_TRUE(at::equal(a.slice(1, 0, changed), b.slice(1, 0, changed)))
          << "position " << changed << " leaked into earlier logits";
      // The change is seen from its own position on (the test could not
      // pass with a model that ignores its input).
      EXPECT_FALSE(at::equal(a.select(1, changed), b.select(1, changed)));
      if (changed + 1 < c.context) {
        EXPECT_FALSE(at::equal(a.select(1, changed + 1), b.select(1, changed + 1)));
      }
    }
  }
}

TEST(Transformer, GivesLogitsAndATargetForEveryPosition) {
  const TransformerConfig c{.layers = 1, .width = 8, .heads = 2, .context = 4};
  std::unique_ptr<Model> model = Make(c);
  std::vector<float> params = InitialParams(*model, 1);
  const TorchModel& torch_model = AsTorchModel(*model);
  at::Tensor x = at::tensor(std::vector<float>{10, 11, 12, 13, 20, 21, 22, 23}).view({2, 1, 1, 4});
  at::Tensor labels = at::tensor(std::vector<int64_t>{14, 24});
  at::Tensor logits = torch_model.Forward(Flat(params), x);
  EXPECT_EQ(logits.sizes(), (at::IntArrayRef{8, kVocab}));
  at::Tensor targets = torch_model.Targets(x, labels).contiguous();
  ASSERT_EQ(targets.sizes(), (at::IntArrayRef{8}));
  EXPECT_EQ(std::vector<int64_t>(targets.data_ptr<int64_t>(), targets.data_ptr<int64_t>() + 8),
            (std::vector<int64_t>{11, 12, 13, 14, 21, 22, 23, 24}));
}

TEST(Transformer, RefusesInputsItCannotRead) {
  const TransformerConfig c{.width = 10, .heads = 4, .context = 8};
  Result<std::unique_ptr<Model>> heads = MakeModel(Transformer(c), Window(8));
  EXPECT_EQ(heads.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(heads.status().message().find("model.width = 10 is not divisible by model.heads = 4"),
            std::string::npos);
  const TransformerConfig ok{.width = 8, .heads = 4, .context = 8};
  Result<std::unique_ptr<Model>> image = MakeModel(Transformer(ok), InputShape{});
  EXPECT_NE(image.status().message().find("not 1x28x28 images"), std::string::npos);
  Result<std::unique_ptr<Model>> classes = MakeModel(
      Transformer(ok), InputShape{.channels = 1, .height = 1, .width = 8, .num_classes = 2});
  EXPECT_NE(classes.status().message().find("2 classes"), std::string::npos);
  Result<std::unique_ptr<Model>> longer = MakeModel(Transformer(ok), Window(80));
  EXPECT_NE(longer.status().message().find("set model.context = 80"), std::string::npos);
}

TEST(TextWindows, CutsTheTextIntoWindowsOfContextPlusOne) {
  // Windows of 3: "abc" (train), "def" (test), "ghi" (train); "j" is dropped.
  TrainTestSplit s = MakeCharDataset(
      "abcdefghij", {.context = 2, .test_every = 2, .samples = TextSamples::kWindows});
  auto id = [](char ch) { return CharId(static_cast<uint8_t>(ch)); };
  auto f = [&](char ch) { return static_cast<float>(id(ch)); };
  EXPECT_EQ(s.train.width, 2);
  EXPECT_EQ(s.train.features, (std::vector<float>{f('a'), f('b'), f('g'), f('h')}));
  EXPECT_EQ(s.train.labels, (std::vector<int64_t>{id('c'), id('i')}));
  EXPECT_EQ(s.test.features, (std::vector<float>{f('d'), f('e')}));
  EXPECT_EQ(s.test.labels, (std::vector<int64_t>{id('f')}));
}

TEST(TextWindows, ContextLongerThanTheCorpusSaysWhatToChange) {
  Result<TrainTestSplit> r = LoadFortunes(
      std::string(kFortunesDir) + "/fortunes",
      {.context = 4096, .test_every = 10, .samples = TextSamples::kWindows});
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("lower model.context"), std::string::npos);
}

// Cross entropy (nats per character) on the test targets of the character
// frequencies of the training targets (add-one smoothed): the best a model
// that ignores the context can do.
double UnigramCrossEntropy(const Model& model, const TrainTestSplit& data) {
  const TorchModel& torch_model = AsTorchModel(model);
  auto targets = [&](const Dataset& d) {
    at::Tensor x = at::from_blob(const_cast<float*>(d.features.data()),
                                 {d.size(), 1, 1, d.width}, at::kFloat);
    at::Tensor y = at::from_blob(const_cast<int64_t*>(d.labels.data()), {d.size()}, at::kLong);
    return torch_model.Targets(x, y).contiguous();
  };
  at::Tensor train = targets(data.train);
  at::Tensor counts = at::bincount(train, {}, kVocab).to(at::kDouble) + 1.0;
  at::Tensor log_p = (counts / counts.sum()).log();
  return -log_p.index_select(0, targets(data.test)).mean().item<double>();
}

TEST(Transformer, LearnsTheFortunesWellBelowTheUnigramBaseline) {
  ConfigureTorchThreads(1);
  const TransformerConfig c{.layers = 1, .width = 32, .heads = 4, .context = 32};
  Result<TrainTestSplit> data =
      LoadFortunes(std::string(kFortunesDir) + "/computers",
                   {.context = c.context, .test_every = 10, .samples = TextSamples::kWindows});
  // scripts/install_deps.sh installs the `fortunes` package.
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  std::unique_ptr<Model> model = Make(c);
  std::vector<int64_t> shard(static_cast<size_t>(data->train.size()));
  for (size_t i = 0; i < shard.size(); ++i) shard[i] = static_cast<int64_t>(i);
  Learner learner(*model, data->train, shard,
                  OptimizerConfig{.kind = OptimizerKind::kAdam, .lr = 0.01}, 16,
                  Rng(1, PeerId(0), RngPurpose::kInit), Rng(1, PeerId(0), RngPurpose::kBatch));
  const EvalStats before = Evaluate(*model, learner.params(), data->test, 0);
  learner.Train(500);
  const EvalStats after = Evaluate(*model, learner.params(), data->test, 0);
  const double unigram = UnigramCrossEntropy(*model, *data);
  std::printf("unigram %.3f, transformer %.3f -> %.3f nats/char, accuracy %.3f\n", unigram,
              before.loss, after.loss, after.accuracy);
  EXPECT_NEAR(before.loss, std::log(static_cast<double>(kVocab)), 0.1);  // uniform at init
  EXPECT_GT(unigram, 3.0);
  EXPECT_LT(after.loss, unigram - 0.4);
}

}  // namespace
}  // namespace murmur
