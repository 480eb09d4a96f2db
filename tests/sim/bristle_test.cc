// Bristle end to end through the run configuration on synthetic data: peers
// train and exchange only the output layer over a frozen body, messages
// carry exactly its bytes, and Bristle learns and holds under a sign-flip
// attack that breaks the plain average on the same frozen body.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "murmur/core/config.h"
#include "murmur/learn/checkpoint.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/experiment/run_setup.h"

namespace murmur {
namespace {

// The body every test run loads: one peer trains the whole MLP for 100
// steps (the examples' pretraining phase), on the same synthetic classes
// (the dataset is drawn from the run seed).
const std::string& PretrainedBody() {
  static const std::string* path = [] {
    auto* p = new std::string(::testing::TempDir() + "bristle_scenario_body.ckpt");
    Config config = Config::FromString(R"(
seed = 3
peers = 1
threads = 1
[data]
dataset = "synthetic"
synthetic_train = 2400
synthetic_test = 500
[model]
kind = "mlp"
hidden = [16]
[train]
lr = 0.05
momentum = 0.9
batch_size = 16
[protocol]
rounds = 10
local_steps = 10
[eval]
every = 10
)", "pretrain.toml").value();
    MURMUR_CHECK(config.Set("train.save_checkpoint=" + *p).ok());
    Result<RunSummary> s = RunExperiment(ReadRunConfig(config).value(), RunObserver{});
    MURMUR_CHECK(s.ok());
    return p;
  }();
  return *path;
}

// 12 peers on a random 4-regular graph, an MLP 784 -> 16 -> 10 whose body
// comes from PretrainedBody() under a fresh output layer.
Config Base() {
  Config config = Config::FromString(R"(
seed = 3
peers = 12
threads = 1
[data]
dataset = "synthetic"
synthetic_train = 2400
synthetic_test = 500
validation_fraction = 0.2
[model]
kind = "mlp"
hidden = [16]
[train]
lr = 0.05
momentum = 0.9
batch_size = 16
trainable = "output"
[protocol]
kind = "dpsgd"
topology = "regular"
degree = 4
rounds = 15
local_steps = 5
[robust]
rule = "bristle"
[eval]
every = 5
)", "bristle.toml").value();
  MURMUR_CHECK(config.Set("model.init_checkpoint=" + PretrainedBody()).ok());
  MURMUR_CHECK(config.Set("model.reinit_output=true").ok());
  return config;
}

RunSummary RunBristle(Config config, const std::vector<std::string>& sets) {
  for (const std::string& s : sets) EXPECT_TRUE(config.Set(s).ok()) << s;
  Result<RunConfig> run = ReadRunConfig(config);
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  Result<RunSummary> summary = RunExperiment(*run, RunObserver{});
  EXPECT_TRUE(summary.ok()) << summary.status().ToString();
  return summary.ok() ? *summary : RunSummary{};
}

TEST(BristleScenario, MessagesCarryOnlyTheOutputLayerAndTheBodyStaysFrozen) {
  const std::string ckpt = ::testing::TempDir() + "bristle_scenario.ckpt";
  const RunSummary s = RunBristle(Base(), {"train.save_checkpoint=" + ckpt});
  ASSERT_FALSE(s.rows.empty());
  // Every peer sends its 16 x 10 + 10 floats to each of 4 neighbours every
  // round; a frame is u8 kind | u32 round | u64 weight | u32 count | floats.
  const uint64_t layer_bytes = 17 + 4 * (16 * 10 + 10);
  EXPECT_EQ(s.stats.msgs_sent, 15u * 12u * 4u);
  EXPECT_EQ(s.stats.bytes_sent, s.stats.msgs_sent * layer_bytes);

  // The saved mean of the final models has exactly the pretrained body
  // (every peer's body stayed bit-identical) and a head of its own: the
  // fresh seeded initialization, then trained.
  std::unique_ptr<Model> model =
      MakeModel(ModelConfig{.kind = ModelKind::kMlp, .hidden = {16}}, InputShape{}).value();
  Result<std::vector<float>> body_ckpt = LoadCheckpoint(PretrainedBody(), model->num_params());
  Result<std::vector<float>> saved = LoadCheckpoint(ckpt, model->num_params());
  ASSERT_TRUE(saved.ok() && body_ckpt.ok()) << saved.status().ToString();
  const auto body = static_cast<size_t>(OutputLayerOf(*model).offset);
  EXPECT_TRUE(std::equal(body_ckpt->begin(), body_ckpt->begin() + body, saved->begin()));
  EXPECT_FALSE(std::equal(body_ckpt->begin() + body, body_ckpt->end(), saved->begin() + body));
  std::remove(ckpt.c_str());
}

TEST(BristleScenario, LearnsAndHoldsUnderSignFlipWhereTheMeanBreaks) {
  const double clean = RunBristle(Base(), {}).rows.back().acc_mean;
  const std::vector<std::string> attack = {"byzantine.count=3", "byzantine.attack=sign-flip",
                                           "byzantine.scale=10"};
  std::vector<std::string> mean = attack;
  mean.push_back("robust.rule=mean");
  const double mean_acc = RunBristle(Base(), mean).rows.back().acc_mean;
  const double bristle_acc = RunBristle(Base(), attack).rows.back().acc_mean;
  EXPECT_GT(clean, 0.85);
  EXPECT_LT(mean_acc, clean - 0.2);
  EXPECT_GT(bristle_acc, clean - 0.05);
}

TEST(BristleScenario, MisconfigurationsSayWhatToSet) {
  const std::pair<const char*, const char*> cases[] = {
      {"train.trainable=all", "train.trainable"},
      {"data.validation_fraction=0", "data.validation_fraction"},
      {"protocol.kind=gossip", "dpsgd"},
  };
  for (const auto& [setting, hint] : cases) {
    Config config = Base();
    ASSERT_TRUE(config.Set(setting).ok());
    Result<RunConfig> run = ReadRunConfig(config);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    Result<RunSummary> summary = RunExperiment(*run, RunObserver{});
    ASSERT_FALSE(summary.ok()) << setting;
    EXPECT_EQ(summary.status().code(), StatusCode::kInvalidArgument) << setting;
    EXPECT_NE(summary.status().message().find(hint), std::string::npos)
        << setting << ": " << summary.status().message();
  }
  Config config = Base();
  ASSERT_TRUE(config.Set("robust.pre=[\"nnm\"]").ok());
  EXPECT_FALSE(ReadRunConfig(config).ok());
}

}  // namespace
}  // namespace murmur
