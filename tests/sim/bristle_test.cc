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
    // A rerun of the suite replaces the previous run's file.
    MURMUR_CHECK(config.Set("train.overwrite_checkpoint=true").ok());
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
  const RunSummary s =
      RunBristle(Base(), {"train.save_checkpoint=" + ckpt, "train.overwrite_checkpoint=true"});
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
  Result<std::vector<float>> body_ckpt = LoadCheckpoint(PretrainedBody(), CheckpointArchitecture(*model), model->num_params());
  Result<std::vector<float>> saved = LoadCheckpoint(ckpt, CheckpointArchitecture(*model), model->num_params());
  ASSERT_TRUE(saved.ok() && body_ckpt.ok()) << saved.status().ToString();
  const auto body = static_cast<size_t>(OutputLayerOf(*model).offset);
  EXPECT_TRUE(std::equal(body_ckpt->begin(), body_ckpt->begin() + body, saved->begin()));
  EXPECT_FALSE(std::equal(body_ckpt->begin() + body, body_ckpt->end(), saved->begin() + body));
  std::remove(ckpt.c_str());
}

// On a non-IID split (Dirichlet 0.5 label skew) and under a sign-flip
// attack by 3 of 12 peers, Bristle beats its own local-only mode (exploit =
// explore = 0: no neighbour's layer is ever considered, i.e. a Bristle that
// rejects every neighbour) by a margin, clean and attacked, and holds close
// to its clean accuracy where the plain mean breaks. With seed 3: Bristle
// 0.933 clean and 0.917 attacked, local-only 0.811 and 0.805, the mean
// 0.212 attacked. (On a two-class shards split Bristle stays at local-only,
// 0.29 vs 0.28, where the mean reaches 0.92: peers that share no class
// give each other weight 0; see docs/testing.md.)
TEST(BristleScenario, LearnsAndHoldsUnderSignFlipWhereTheMeanBreaks) {
  const std::vector<std::string> non_iid = {"data.partition=dirichlet", "data.alpha=0.5"};
  const auto with = [&](std::vector<std::string> sets) {
    sets.insert(sets.end(), non_iid.begin(), non_iid.end());
    return sets;
  };
  const std::vector<std::string> alone = {"robust.exploit=0", "robust.explore=0"};
  const std::vector<std::string> attack = {"byzantine.count=3", "byzantine.attack=sign-flip",
                                           "byzantine.scale=10"};
  std::vector<std::string> mean = attack;
  mean.push_back("robust.rule=mean");
  std::vector<std::string> attack_alone = attack;
  attack_alone.insert(attack_alone.end(), alone.begin(), alone.end());
  const double clean = RunBristle(Base(), with({})).rows.back().acc_mean;
  const double local = RunBristle(Base(), with(alone)).rows.back().acc_mean;
  const double mean_acc = RunBristle(Base(), with(mean)).rows.back().acc_mean;
  const double bristle_acc = RunBristle(Base(), with(attack)).rows.back().acc_mean;
  const double local_attacked = RunBristle(Base(), with(attack_alone)).rows.back().acc_mean;
  EXPECT_GT(clean, 0.9);
  EXPECT_GT(clean, local + 0.08) << "local-only reaches " << local;
  EXPECT_GT(bristle_acc, local_attacked + 0.08) << "local-only reaches " << local_attacked;
  EXPECT_GT(bristle_acc, clean - 0.05);
  EXPECT_LT(mean_acc, clean - 0.2);
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
