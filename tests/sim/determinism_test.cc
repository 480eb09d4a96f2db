// A run is a pure function of its configuration and seed: the metrics are
// byte-identical whatever the number of compute threads.
#include <gtest/gtest.h>

#include <string>

#include "murmur/core/config.h"
#include "murmur/experiment/sim_run.h"
#include "testing/scenario.h"
#include "testing/seeded_test.h"

namespace murmur {
namespace {

std::string MetricsJsonl(const std::string& protocol, uint64_t seed, int threads) {
  Config config = testing::SmallLossyRunConfig();
  // "kind+codec": the protocol with compressed traffic, so the codec stage
  // columns are in the lines too.
  const std::string kind = protocol.substr(0, protocol.find('+'));
  if (protocol == "gossip+sign") EXPECT_TRUE(config.Set("compress.codec=sign").ok());
  if (protocol == "fedavg+topk") {
    EXPECT_TRUE(config.Set("compress.uplink=topk:0.1|int8|zstd").ok());
    EXPECT_TRUE(config.Set("compress.downlink=int8").ok());
    EXPECT_TRUE(config.Set("compress.error_feedback=ef21").ok());
    EXPECT_TRUE(config.Set("protocol.round_timeout_s=2").ok());
  }
  EXPECT_TRUE(config.Set("protocol.kind=" + kind).ok());
  EXPECT_TRUE(config.Set("seed=" + std::to_string(seed)).ok());
  if (kind == "dpsgd" || kind == "gossip" || kind == "dfedsam") {
    EXPECT_TRUE(config.Set("protocol.topology=ring").ok());
  }
  EXPECT_TRUE(config.Set("threads=" + std::to_string(threads)).ok());
  if (kind == "gossip") {
    EXPECT_TRUE(config.Set("protocol.gossip_period_s=0.05").ok());
  }
  if (protocol == "modest") {
    EXPECT_TRUE(config.Set("protocol.modest_trainers=4").ok());
    EXPECT_TRUE(config.Set("protocol.round_timeout_s=0.5").ok());
    EXPECT_TRUE(config.Set("protocol.modest_ping_timeout_s=0.05").ok());
  }
  if (protocol == "epidemic") EXPECT_TRUE(config.Set("protocol.epidemic_fanout=3").ok());
  if (protocol == "dfedsam") EXPECT_TRUE(config.Set("train.sam_rho=0.05").ok());
  if (protocol == "fedkseed") {
    EXPECT_TRUE(config.Set("protocol.kind=spsa").ok());
    EXPECT_TRUE(config.Set("spsa.mode=fedkseed").ok());
    EXPECT_TRUE(config.Set("spsa.sampling=importance").ok());
    EXPECT_TRUE(config.Set("spsa.seed_pool=64").ok());
  }
  if (protocol == "fedbuff") EXPECT_TRUE(config.Set("protocol.buffer_size=3").ok());
  testing::ConfigRun run = testing::RunFromConfig(config);
  EXPECT_TRUE(run.summary.ok()) << run.summary.status().ToString();
  return run.metrics_jsonl;
}

TEST(Determinism, SameSeedGivesByteIdenticalMetricsWithOneOrTwoThreads) {
  MURMUR_SEED_TRACE(7);  // and 8, the run that must differ
  for (const char* protocol : {"dpsgd", "gossip", "fedavg", "modest", "epidemic", "dfedsam", "spsa",
                               "fedkseed", "fedbuff", "fedcompass", "gossip+sign", "fedavg+topk"}) {
    const std::string one = MetricsJsonl(protocol, 7, 1);
    const std::string two = MetricsJsonl(protocol, 7, 2);
    EXPECT_FALSE(one.empty()) << protocol;
    EXPECT_EQ(one, two) << protocol;
    EXPECT_NE(one, MetricsJsonl(protocol, 8, 2)) << protocol;
    const std::string p = protocol;
    if (p.find('+') != std::string::npos) {
      EXPECT_NE(one.find("\"bytes_" + std::string(p == "gossip+sign" ? "stage_sign" : "up_stage_zstd")),
                std::string::npos) << one;
    }
    if (p.starts_with("fedavg")) EXPECT_NE(one.find("\"bytes_up\""), std::string::npos);
    if (p.starts_with("dpsgd")) EXPECT_EQ(one.find("\"bytes_up\""), std::string::npos);
  }
}

}  // namespace
}  // namespace murmur
