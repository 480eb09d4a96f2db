// model.kind = "transformer" through the murmur binary: configs it cannot
// run exit 2 with a message saying what to change, and the protocols train
// it through the same flat buffer as any other model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/cli_runner.h"

namespace {

using ::testing::HasSubstr;
using murmur::testing::CliOutcome;
using murmur::testing::RunMurmur;

constexpr const char* kSmallCorpus = "/usr/share/games/fortunes/fortunes";

CliOutcome RunTransformer(const std::string& settings) {
  return RunMurmur(
      "run --quiet --threads 1 --set peers=2 --set protocol.rounds=1 "
      "--set model.kind=transformer --set model.layers=1 --set model.width=8 "
      "--set model.heads=2 --set model.context=16 --set data.dataset=fortunes "
      "--set data.path=" + std::string(kSmallCorpus) + " " + settings);
}

TEST(TransformerCli, WidthNotDivisibleByHeadsExitsTwo) {
  CliOutcome o = RunTransformer("--set model.heads=3");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_THAT(o.output, HasSubstr("model.width = 8 is not divisible by model.heads = 3"));
}

TEST(TransformerCli, ContextLongerThanTheDataExitsTwo) {
  ASSERT_TRUE(std::filesystem::exists(kSmallCorpus))
      << kSmallCorpus << " missing: run scripts/install_deps.sh (fortunes)";
  CliOutcome o = RunTransformer("--set model.context=4000");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_THAT(o.output, HasSubstr("too few for 10 windows of model.context + 1 = 4001"));
  EXPECT_THAT(o.output, HasSubstr("lower model.context"));
}

TEST(TransformerCli, NonTextDatasetExitsTwo) {
  CliOutcome o = RunTransformer("--set data.dataset=synthetic");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_THAT(o.output, HasSubstr("needs a text dataset, data.dataset = \"fortunes\""));
  CliOutcome char_keys = RunTransformer("--set data.context=8");
  EXPECT_EQ(char_keys.exit_code, 2) << char_keys.output;
  EXPECT_THAT(char_keys.output, HasSubstr("remove them and set model.context"));
  // Its keys belong to it alone.
  CliOutcome mlp = RunMurmur(
      "run --quiet --set data.dataset=synthetic --set model.kind=mlp --set model.layers=2");
  EXPECT_EQ(mlp.exit_code, 2) << mlp.output;
  EXPECT_THAT(mlp.output, HasSubstr("model.layers"));
}

TEST(TransformerCli, FedAvgDpsgdAndGossipTrainIt) {
  ASSERT_TRUE(std::filesystem::exists(kSmallCorpus))
      << kSmallCorpus << " missing: run scripts/install_deps.sh (fortunes)";
  const std::string dir = murmur::testing::FreshTempDir("transformer");
  for (const std::string kind : {"fedavg", "dpsgd", "gossip"}) {
    const std::string out = dir + "/" + kind;
    CliOutcome o = RunTransformer("--set protocol.kind=" + kind + " --set eval.every=1 --out " +
                                  out);
    ASSERT_EQ(o.exit_code, 0) << kind << ": " << o.output;
    std::ifstream metrics(out + "/metrics.jsonl");
    std::stringstream text;
    text << metrics.rdbuf();
    // Round 1's per-token test loss is finite and below ln(97) = 4.57, the
    // uniform guess the model starts from.
    EXPECT_THAT(text.str(), HasSubstr("\"round\":1,")) << kind;
    const size_t at = text.str().rfind("\"loss_mean\":");
    ASSERT_NE(at, std::string::npos) << kind;
    const double loss = std::stod(text.str().substr(at + 12));
    EXPECT_LT(loss, 4.5) << kind;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
