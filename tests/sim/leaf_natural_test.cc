// Bring-your-own data end to end: a tiny FEMNIST-like LEAF dataset written
// in LEAF's JSON layout, split by writer (data.partition = "natural"), runs
// D-PSGD in the simulator through the run configuration, as `murmur run`
// does. Each writer holds two of ten classes, so a peer (two writers) sees
// at most four: D-PSGD must beat the same peers trained alone (SGP with no
// out-peers) by a wide margin on the shared test set.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/core/rng.h"
#include "murmur/experiment/run_config.h"
#include "testing/data_files.h"
#include "testing/scenario.h"
#include "testing/seeded_test.h"

namespace murmur {
namespace {

using testing::LeafUser;

constexpr int kWriters = 16;
constexpr int kClasses = 10;
constexpr int kPixels = 64;  // an 8x8 image, as FEMNIST's 28x28 flattened

// Writer w draws from classes w % 10 and (w + 3) % 10: a class mean plus
// Gaussian noise, like the synthetic clusters.
void WriteLeafFemnistLike(const testing::DataDir& dir, uint64_t seed) {
  Rng means_rng(seed, PeerId{0}, RngPurpose::kSynthetic);
  std::vector<std::vector<float>> means(kClasses, std::vector<float>(kPixels));
  for (auto& mean : means) {
    for (float& m : mean) m = static_cast<float>(means_rng.Normal());
  }
  Rng rng(seed + 1, PeerId{0}, RngPurpose::kSynthetic);
  std::vector<LeafUser> train, test;
  for (int w = 0; w < kWriters; ++w) {
    LeafUser tr{"f" + std::to_string(1000 + w), {}, {}};
    LeafUser te{tr.name, {}, {}};
    for (int i = 0; i < 50; ++i) {
      const int label = i % 2 == 0 ? w % kClasses : (w + 3) % kClasses;
      std::vector<float> x(kPixels);
      for (int j = 0; j < kPixels; ++j) {
        x[j] = means[label][j] + static_cast<float>(1.5 * rng.Normal());
      }
      LeafUser& to = i < 40 ? tr : te;
      to.x.push_back(x);
      to.y.push_back(label);
    }
    train.push_back(std::move(tr));
    test.push_back(std::move(te));
  }
  // Split across files as LEAF's sampling does.
  testing::WriteLeafFile(dir.File("train/all_data_0_train.json"),
                         std::vector<LeafUser>(train.begin(), train.begin() + 7));
  testing::WriteLeafFile(dir.File("train/all_data_1_train.json"),
                         std::vector<LeafUser>(train.begin() + 7, train.end()));
  testing::WriteLeafFile(dir.File("test/all_data_0_test.json"), test);
}

Config LeafRun(const std::string& path, const std::string& protocol) {
  Config config = Config::FromString(R"(
peers = 8
[data]
dataset = "leaf"
partition = "natural"
[model]
kind = "logreg"
[train]
lr = 0.05
[protocol]
rounds = 20
local_steps = 4
[eval]
every = 20
)", "leaf_natural.toml").value();
  EXPECT_TRUE(config.Set("data.path=\"" + path + "\"").ok());
  EXPECT_TRUE(config.Set("protocol.kind=" + protocol).ok());
  if (protocol == "sgp") {
    EXPECT_TRUE(config.Set("protocol.sgp_out_peers=0").ok());
  }
  return config;
}

TEST(LeafNatural, DpsgdOnWriterSplitFemnistLikeDataBeatsLocalOnlyTraining) {
  constexpr uint64_t kSeed = 1;
  MURMUR_SEED_TRACE(kSeed);
  testing::DataDir dir;
  WriteLeafFemnistLike(dir, kSeed);
  testing::ConfigRun dpsgd = testing::RunFromConfig(LeafRun(dir.path().string(), "dpsgd"));
  ASSERT_TRUE(dpsgd.summary.ok()) << dpsgd.summary.status().ToString();
  testing::ConfigRun alone = testing::RunFromConfig(LeafRun(dir.path().string(), "sgp"));
  ASSERT_TRUE(alone.summary.ok()) << alone.summary.status().ToString();
  const EvalRow& d = dpsgd.summary->rows.back();
  const EvalRow& a = alone.summary->rows.back();
  EXPECT_EQ(d.round, 20);
  EXPECT_EQ(a.bytes_sent, 0u);  // really alone
  EXPECT_GT(d.acc_mean, 0.85) << "local-only " << a.acc_mean;
  EXPECT_LT(a.acc_mean, 0.5);
  EXPECT_GT(d.acc_mean, a.acc_mean + 0.35);
}

TEST(LeafNatural, FewerWritersThanPeersIsAConfigErrorNamingTheCounts) {
  testing::DataDir dir;
  WriteLeafFemnistLike(dir, 1);
  Config config = LeafRun(dir.path().string(), "dpsgd");
  ASSERT_TRUE(config.Set("peers=17").ok());
  testing::ConfigRun run = testing::RunFromConfig(config);
  ASSERT_FALSE(run.summary.ok());
  EXPECT_EQ(run.summary.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(run.summary.status().message().find("16 writers but there are 17 peers"),
            std::string::npos)
      << run.summary.status().message();
}

}  // namespace
}  // namespace murmur
