// Stochastic Gradient Push (protocol/sgp.h) in seeded simulated runs: under
// a shards split no peer can learn the task alone (each sees two of the ten
// classes), and SGP on the 1-peer exponential graph beats the same run with
// no communication (protocol.sgp_out_peers = 0) by a wide margin.
#include <gtest/gtest.h>

#include <string>

#include "murmur/core/config.h"
#include "murmur/experiment/run_config.h"
#include "testing/scenario.h"

namespace murmur::testing {
namespace {

Config ShardsRun(int64_t out_peers) {
  Config config = Config::FromString(R"(
seed = 1
peers = 16
[data]
dataset = "synthetic"
synthetic_train = 3200
synthetic_test = 500
partition = "shards"
shards_per_peer = 2
[model]
kind = "mlp"
hidden = [16]
[protocol]
kind = "sgp"
rounds = 30
local_steps = 5
[eval]
every = 10
)", "sgp_shards.toml").value();
  EXPECT_TRUE(config.Set("protocol.sgp_out_peers=" + std::to_string(out_peers)).ok());
  return config;
}

TEST(Sgp, BeatsLocalOnlyTrainingOnAShardsSplit) {
  ConfigRun sgp = RunFromConfig(ShardsRun(1));
  ConfigRun alone = RunFromConfig(ShardsRun(0));
  ASSERT_TRUE(sgp.summary.ok()) << sgp.summary.status().ToString();
  ASSERT_TRUE(alone.summary.ok()) << alone.summary.status().ToString();
  const EvalRow& s = sgp.summary->rows.back();
  const EvalRow& a = alone.summary->rows.back();
  EXPECT_EQ(s.round, 30);
  EXPECT_EQ(a.round, 30);
  // One share out per peer and round; none without communication.
  EXPECT_EQ(sgp.summary->stats.msgs_sent, 16u * 30u);
  EXPECT_EQ(alone.summary->stats.msgs_sent, 0u);
  // A peer that sees two classes tops out near 2/10 alone.
  EXPECT_LT(a.acc_mean, 0.35);
  EXPECT_GT(s.acc_mean, 0.8);
  EXPECT_GT(s.acc_mean - a.acc_mean, 0.4);
  EXPECT_EQ(sgp.summary->stats.bad_peer_reports, 0u);
}

TEST(Sgp, IsReproducibleAndFinishesUnderMessageLoss) {
  Config config = ShardsRun(2);
  ASSERT_TRUE(config.Set("protocol.rounds=8").ok());
  ASSERT_TRUE(config.Set("protocol.round_timeout_s=2").ok());
  ASSERT_TRUE(config.Set("sim.loss=0.1").ok());
  ConfigRun one = RunFromConfig(config);
  ConfigRun two = RunFromConfig(config);
  ASSERT_TRUE(one.summary.ok()) << one.summary.status().ToString();
  EXPECT_EQ(one.summary->rows.back().round, 8);
  EXPECT_GT(one.summary->stats.msgs_lost, 0u);
  EXPECT_GT(one.summary->counters.at("sgp.round_timeouts"), 0);
  EXPECT_EQ(one.metrics_jsonl, two.metrics_jsonl);
}

TEST(Sgp, RejectsMoreOutPeersThanTheGraphHasHops) {
  // 16 peers: hops 1, 2, 4, 8.
  ConfigRun run = RunFromConfig(ShardsRun(5));
  ASSERT_FALSE(run.summary.ok());
  EXPECT_EQ(run.summary.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(run.summary.status().ToString().find("protocol.sgp_out_peers"), std::string::npos)
      << run.summary.status().ToString();
}

}  // namespace
}  // namespace murmur::testing
