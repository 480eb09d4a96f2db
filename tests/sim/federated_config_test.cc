// The federated protocols through the run configuration: their keys are
// checked, and runs under loss and churn finish and are reproducible.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "murmur/core/config.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/registry.h"
#include "testing/scenario.h"
#include "testing/seeded_test.h"

namespace murmur {
namespace {

Config Base() {
  Config config = testing::SmallLossyRunConfig();
  EXPECT_TRUE(config.Set("protocol.round_timeout_s=0.5").ok());
  return config;
}

std::string MetricsJsonl(const std::string& protocol, int threads) {
  Config config = Base();
  EXPECT_TRUE(config.Set("protocol.kind=" + protocol).ok());
  EXPECT_TRUE(config.Set("threads=" + std::to_string(threads)).ok());
  // FedAsync applies each update on arrival, without a server optimizer.
  if (protocol != "fedasync") {
    EXPECT_TRUE(config.Set("protocol.server_optimizer=yogi").ok());
    EXPECT_TRUE(config.Set("protocol.server_lr=0.01").ok());
  }
  if (protocol == "fedbuff") {
    EXPECT_TRUE(config.Set("protocol.buffer_size=3").ok());
  }
  MURMUR_SEED_TRACE(ReadRunConfig(config).value().seed);
  testing::ConfigRun run = testing::RunFromConfig(config);
  EXPECT_TRUE(run.summary.ok()) << run.summary.status().ToString();
  if (run.summary.ok()) {
    EXPECT_EQ(run.summary->rows.back().round, 6) << protocol;
    EXPECT_GT(run.summary->stats.msgs_lost, 0u) << protocol;
  }
  return run.metrics_jsonl;
}

TEST(FederatedConfig, RunsFinishUnderLossAndChurnAndAreReproducible) {
  for (const char* protocol : {"fedprox", "fedasync", "fedbuff", "fedcompass"}) {
    const std::string one = MetricsJsonl(protocol, 1);
    EXPECT_FALSE(one.empty()) << protocol;
    EXPECT_EQ(one, MetricsJsonl(protocol, 2)) << protocol;
  }
}

TEST(FederatedConfig, BadValuesAreRejectedNamingTheKey) {
  // {protocol.kind, setting, key}: each bad value under a protocol that reads it.
  const std::tuple<const char*, const char*, const char*> cases[] = {
      {"fedavg", "protocol.server_optimizer=adamw", "protocol.server_optimizer"},
      {"fedavg", "protocol.server_lr=0", "protocol.server_lr"},
      {"fedasync", "protocol.async_alpha=1.5", "protocol.async_alpha"},
      {"fedasync", "protocol.staleness=linear", "protocol.staleness"},
      {"fedbuff", "protocol.buffer_size=0", "protocol.buffer_size"},
      {"fedcompass", "protocol.compass_lambda=0.5", "protocol.compass_lambda"},
      {"fedprox", "protocol.proximal_mu=-1", "protocol.proximal_mu"},
  };
  for (const auto& [kind, setting, key] : cases) {
    Config config = Base();
    ASSERT_TRUE(config.Set(std::string("protocol.kind=") + kind).ok()) << kind;
    ASSERT_TRUE(config.Set(setting).ok()) << setting;
    Result<RunConfig> run = ReadRunConfig(config);
    ASSERT_FALSE(run.ok()) << setting;
    EXPECT_EQ(run.status().code(), StatusCode::kInvalidArgument) << setting;
    EXPECT_NE(run.status().ToString().find(key), std::string::npos) << run.status().ToString();
  }
  Config config = Base();
  ASSERT_TRUE(config.Set("protocol.kind=fedcompass").ok());
  ASSERT_TRUE(config.Set("protocol.compass_min_steps=4").ok());
  Result<RunConfig> run = ReadRunConfig(config);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(run.status().ToString().find("protocol.compass_min_steps"), std::string::npos);
}

TEST(FederatedConfig, DefaultsKeepFedAvgAsItWas) {
  Config config = Base();
  ASSERT_TRUE(config.Set("protocol.kind=fedavg").ok());
  RunConfig run = ReadRunConfig(config).value();
  const auto fedavg = ProtocolOptionsAs<FedAvgConfig>(run.protocol);
  EXPECT_EQ(fedavg.server_optimizer.kind, ServerOptimizerKind::kReplace);
  EXPECT_EQ(fedavg.proximal_mu, 0.0);
}

}  // namespace
}  // namespace murmur
