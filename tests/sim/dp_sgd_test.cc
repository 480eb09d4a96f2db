// Sample-level DP-SGD (privacy.dp_sgd) in whole runs: the epsilon the rows
// and the summary report is the accountant's for each peer's steps, a
// target epsilon is met, the private run learns (above chance, below the
// non-private run), and bad combinations are refused naming the key.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/privacy/accountant.h"
#include "testing/scenario.h"

namespace murmur {
namespace {

// 8 peers with equal IID shards of 256 samples: with batch 32, q = 1/8.
Config SmallRun(const std::string& protocol, int rounds) {
  Config config = Config::FromString(R"(
peers = 8
[data]
dataset = "synthetic"
synthetic_train = 2048
synthetic_test = 400
[model]
kind = "mlp"
hidden = [16]
[train]
batch_size = 32
[protocol]
local_steps = 3
[eval]
every = 2
)", "dp_sgd_small_run.toml").value();
  EXPECT_TRUE(config.Set("protocol.kind=" + protocol).ok());
  EXPECT_TRUE(config.Set("protocol.rounds=" + std::to_string(rounds)).ok());
  return config;
}

std::vector<nlohmann::json> Rows(Config config, const std::vector<std::string>& sets) {
  for (const std::string& s : sets) EXPECT_TRUE(config.Set(s).ok()) << s;
  testing::ConfigRun run = testing::RunFromConfig(config);
  EXPECT_TRUE(run.summary.ok()) << run.summary.status().ToString();
  std::vector<nlohmann::json> rows;
  std::istringstream lines(run.metrics_jsonl);
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

double AccountantEpsilon(double q, double sigma, int64_t steps, double delta) {
  privacy::PrivacyAccountant accountant;
  EXPECT_TRUE(accountant.ComposeSubsampledGaussian(q, sigma, steps).ok());
  return accountant.Epsilon(delta).value().epsilon;
}

const std::vector<std::string> kDpSgd = {"privacy.dp_sgd=true", "privacy.dp_sgd_clip=1.0",
                                         "privacy.dp_sgd_noise_multiplier=1.1",
                                         "privacy.delta=1e-5"};

// D-PSGD: 3 local steps a round, so after round r every peer took 3r steps
// at q = 32/256. A row is written once its round's models are in, when a
// peer may already have trained the next round: its epsilon lies between
// the accountant's for 3r and 3(r+1) steps; the last row's is exact.
// FedAvg: one epoch of 256/32 = 8 steps per round for every client.
TEST(DpSgdRuns, RowsReportTheAccountantsEpsilonForEachPeersSteps) {
  const double q = 32.0 / 256.0;
  const std::vector<nlohmann::json> rows = Rows(SmallRun("dpsgd", 4), kDpSgd);
  ASSERT_EQ(rows.size(), 3u);  // rounds 0, 2, 4
  for (const nlohmann::json& row : rows) {
    const int64_t round = row["round"];
    ASSERT_TRUE(row.contains("epsilon")) << row.dump();
    const double eps = row["epsilon"].get<double>();
    if (round == 4) {
      EXPECT_EQ(eps, AccountantEpsilon(q, 1.1, 12, 1e-5));
    } else if (round > 0) {
      EXPECT_GE(eps, AccountantEpsilon(q, 1.1, 3 * round, 1e-5)) << round;
      EXPECT_LE(eps, AccountantEpsilon(q, 1.1, 3 * (round + 1), 1e-5)) << round;
    }
  }
  const std::vector<nlohmann::json> fedavg = Rows(SmallRun("fedavg", 2), kDpSgd);
  ASSERT_FALSE(fedavg.empty());
  EXPECT_EQ(fedavg.back()["round"], 2);
  EXPECT_EQ(fedavg.back()["epsilon"].get<double>(), AccountantEpsilon(q, 1.1, 16, 1e-5));
}

// privacy.target_epsilon: each peer solves for its sigma over
// rounds * local_steps steps, so the run ends at (just under) the target.
TEST(DpSgdRuns, TargetEpsilonIsMetOverTheRunsSteps) {
  const std::vector<nlohmann::json> rows =
      Rows(SmallRun("dpsgd", 4), {"privacy.dp_sgd=true", "privacy.target_epsilon=2",
                                  "privacy.delta=1e-5"});
  ASSERT_FALSE(rows.empty());
  const double eps = rows.back()["epsilon"].get<double>();
  EXPECT_LE(eps, 2.0);
  EXPECT_GE(eps, 1.98);
}

// The private run learns the 10-class synthetic task well above chance, and
// less than the same run without DP-SGD (same seed, same steps; measured
// 0.509 against 0.994 at sigma 1, C 1, q = 1/8, 100 steps).
TEST(DpSgdRuns, PrivateRunLearnsAboveChanceAndBelowTheNonPrivateRun) {
  auto final_acc = [](std::vector<std::string> sets) {
    sets.insert(sets.end(), {"train.lr=0.1", "protocol.local_steps=10"});
    const std::vector<nlohmann::json> rows = Rows(SmallRun("dpsgd", 10), sets);
    return rows.empty() ? 0.0 : rows.back()["acc_mean"].get<double>();
  };
  const double plain = final_acc({});
  const double dp = final_acc({"privacy.dp_sgd=true", "privacy.dp_sgd_clip=1.0",
                               "privacy.dp_sgd_noise_multiplier=1.0"});
  std::printf("accuracy: non-private %.4f, DP-SGD %.4f\n", plain, dp);
  EXPECT_GT(dp, 0.1 + 0.3) << "chance is 0.1";
  EXPECT_LT(dp, plain);
}

TEST(DpSgdRuns, BadCombinationsAreRejectedNamingTheKey) {
  const std::pair<std::vector<std::string>, const char*> cases[] = {
      {{"privacy.dp_sgd_clip=2"}, "privacy.dp_sgd = true"},
      {{"privacy.dp_sgd=true", "privacy.mode=local"}, "privacy.mode"},
      {{"privacy.dp_sgd=true", "privacy.dp_sgd_noise_multiplier=1", "privacy.target_epsilon=1"},
       "keep one"},
      {{"privacy.dp_sgd=true", "train.sam_rho=0.05"}, "train.sam_rho"},
      {{"privacy.dp_sgd=true", "privacy.dp_sgd_clip=0"}, "privacy.dp_sgd_clip"},
  };
  for (const auto& [sets, needle] : cases) {
    Config config = SmallRun("dpsgd", 2);
    for (const std::string& s : sets) ASSERT_TRUE(config.Set(s).ok()) << s;
    Result<RunConfig> run = ReadRunConfig(config);
    ASSERT_FALSE(run.ok()) << sets.back();
    EXPECT_EQ(run.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(run.status().message().find(needle), std::string::npos) << run.status().message();
  }
}

}  // namespace
}  // namespace murmur
