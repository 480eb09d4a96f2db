#include "murmur/learn/text_dataset.h"

#include <gtest/gtest.h>

#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"

namespace murmur {
namespace {

TEST(TextDataset, StripsFortuneSeparators) {
  EXPECT_EQ(StripFortuneSeparators("one\n%\ntwo\nlines\n%\n"), "one\ntwo\nlines\n");
  EXPECT_EQ(StripFortuneSeparators("a %\n%%\n"), "a %\n%%\n");
}

TEST(TextDataset, MapsCharactersToAFixedVocabulary) {
  EXPECT_EQ(CharId('\n'), 0);
  EXPECT_EQ(CharId(' '), 1);
  EXPECT_EQ(CharId('\t'), 1);
  EXPECT_EQ(CharId('A'), 'A' - 31);
  EXPECT_EQ(CharId('~'), 95);
  EXPECT_EQ(CharId(0xC3), kCharVocabSize - 1);
}

TEST(TextDataset, ChunksIntoContextWindowsAndSplitsByChunk) {
  // Chunks of 3: "ab\n" (train), "cd" (test, every 2nd chunk).
  TrainTestSplit s = MakeCharDataset("ab\ncd", {.context = 2, .seq_len = 3, .test_every = 2});
  ASSERT_EQ(s.train.size(), 3);
  ASSERT_EQ(s.test.size(), 2);
  EXPECT_EQ(s.train.width, 2);
  EXPECT_EQ(s.train.num_classes, kCharVocabSize);
  const float a = static_cast<float>(CharId('a'));
  const float b = static_cast<float>(CharId('b'));
  const float c = static_cast<float>(CharId('c'));
  EXPECT_EQ(s.train.features, (std::vector<float>{0, 0, 0, a, a, b}));
  EXPECT_EQ(s.train.labels, (std::vector<int64_t>{CharId('a'), CharId('b'), 0}));
  // Contexts never reach back into the previous chunk.
  EXPECT_EQ(s.test.features, (std::vector<float>{0, 0, 0, c}));
  EXPECT_EQ(s.test.labels, (std::vector<int64_t>{CharId('c'), CharId('d')}));
}

TEST(TextDataset, MissingCorpusSaysWhatToInstall) {
  Result<TrainTestSplit> r = LoadFortunes("/nonexistent/fortunes", {});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("fortunes"), std::string::npos);
}

TEST(CharMlp, HasTheHandCountedParametersAndLearns) {
  ConfigureTorchThreads(1);
  const InputShape input{.channels = 1, .height = 1, .width = 4, .num_classes = kCharVocabSize};
  std::unique_ptr<Model> model =
      MakeModel(ModelConfig{.kind = ModelKind::kCharMlp, .hidden = {8}, .embedding_dim = 3}, input)
          .value();
  // embedding 97*3, hidden 8*(4*3)+8, output 97*8+97
  EXPECT_EQ(model->num_params(), 97 * 3 + 8 * 12 + 8 + 97 * 8 + 97);
  EXPECT_FALSE(MakeModel(ModelConfig{.kind = ModelKind::kCharMlp}, InputShape{}).ok());
  // Text with other classes (LEAF Sent140's sentiment): the vocabulary would
  // be the 2 classes, so it is refused.
  Result<std::unique_ptr<Model>> two_classes = MakeModel(
      ModelConfig{.kind = ModelKind::kCharMlp},
      InputShape{.channels = 1, .height = 1, .width = 4, .num_classes = 2});
  EXPECT_EQ(two_classes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(two_classes.status().message().find("2 classes"), std::string::npos);

  std::string text;
  for (int i = 0; i < 200; ++i) text += "abcabd\n";
  TrainTestSplit data = MakeCharDataset(text, {.context = 4, .seq_len = 64, .test_every = 5});
  std::vector<int64_t> shard(static_cast<size_t>(data.train.size()));
  for (size_t i = 0; i < shard.size(); ++i) shard[i] = static_cast<int64_t>(i);
  Learner learner(*model, data.train, shard,
                  OptimizerConfig{.kind = OptimizerKind::kAdam, .lr = 0.01}, 32,
                  Rng(1, PeerId(0), RngPurpose::kInit), Rng(1, PeerId(0), RngPurpose::kBatch));
  const double before = Evaluate(*model, learner.params(), data.test, 0).loss;
  learner.Train(300);
  const EvalStats after = Evaluate(*model, learner.params(), data.test, 0);
  EXPECT_GT(before, 3.0);      // ~ln(97) at random initialization
  EXPECT_LT(after.loss, 0.6);  // only the c/d after "ab" is uncertain
  EXPECT_GT(after.accuracy, 0.8);
}

}  // namespace
}  // namespace murmur
