// The simulator's parallel event windows (simulator.h, EnableParallelEvents)
// change nothing a run reports: metrics.jsonl and the traffic counters are
// byte-identical with 1, 2 and 4 threads, over several seeds, for protocols
// of every shape (decentralized rounds, asynchronous gossip, a server,
// sampled aggregators, Byzantine peers), with loss, device heterogeneity,
// churn and crashes on. The windows must really have run in parallel with 2
// and 4 threads, and never with 1.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/experiment/sim_run.h"
#include "testing/scenario.h"
#include "testing/seeded_test.h"

namespace murmur {
namespace {

struct Outcome {
  std::string metrics;
  SimStats stats;
};

Outcome RunWith(const std::vector<std::string>& settings, uint64_t seed, int threads) {
  // 8 peers, loss 0.1, log-normal device speeds, churn (scenario.cc).
  Config config = testing::SmallLossyRunConfig();
  for (const std::string& s : settings) EXPECT_TRUE(config.Set(s).ok()) << s;
  EXPECT_TRUE(config.Set("seed=" + std::to_string(seed)).ok());
  EXPECT_TRUE(config.Set("threads=" + std::to_string(threads)).ok());
  testing::ConfigRun run = testing::RunFromConfig(config);
  EXPECT_TRUE(run.summary.ok()) << run.summary.status().ToString();
  if (!run.summary.ok()) return {};
  return Outcome{.metrics = run.metrics_jsonl, .stats = run.summary->stats};
}

TEST(ParallelEvents, ByteIdenticalMetricsWithOneTwoAndFourThreads) {
  MURMUR_SEED_TRACE(31);  // and 32, 33
  const std::vector<std::vector<std::string>> cases = {
      {"protocol.kind=dpsgd", "protocol.topology=ring"},
      {"protocol.kind=dpsgd", "sim.crash_fraction=0.25", "sim.crash_at_s=0.2"},
      {"protocol.kind=gossip", "protocol.topology=ring", "protocol.gossip_period_s=0.05"},
      {"protocol.kind=fedavg"},
      {"protocol.kind=modest", "protocol.modest_trainers=4", "protocol.round_timeout_s=0.5",
       "protocol.modest_ping_timeout_s=0.05"},
      {"protocol.kind=epidemic", "protocol.epidemic_fanout=3"},
      {"protocol.kind=dpsgd", "byzantine.count=2", "byzantine.attack=alie"},
      // 72 peers in lockstep (equal devices, no loss or churn): windows of
      // one instant (64+ events at once), then the lookahead ones.
      {"protocol.kind=dpsgd", "peers=72", "sim.speed_sigma=0", "sim.loss=0",
       "sim.churn_mean_online_s=0", "protocol.rounds=2"},
  };
  for (const auto& settings : cases) {
    for (uint64_t seed : {31, 32, 33}) {
      SCOPED_TRACE(settings.front() + (settings.size() > 1 ? " " + settings[1] : "") +
                   " seed " + std::to_string(seed));
      const Outcome one = RunWith(settings, seed, 1);
      ASSERT_FALSE(one.metrics.empty());
      EXPECT_EQ(one.stats.parallel_windows, 0u);
      for (int threads : {2, 4}) {
        const Outcome many = RunWith(settings, seed, threads);
        EXPECT_EQ(one.metrics, many.metrics) << threads << " threads";
        EXPECT_GT(many.stats.parallel_windows, 0u) << threads << " threads";
        EXPECT_EQ(one.stats.events, many.stats.events);
        EXPECT_EQ(one.stats.now.ns, many.stats.now.ns);
        EXPECT_EQ(one.stats.bytes_sent, many.stats.bytes_sent);
        EXPECT_EQ(one.stats.msgs_lost, many.stats.msgs_lost);
        EXPECT_EQ(one.stats.msgs_offline, many.stats.msgs_offline);
        EXPECT_EQ(one.stats.max_peer_bytes, many.stats.max_peer_bytes);
        EXPECT_EQ(one.stats.compute_tasks, many.stats.compute_tasks);
        EXPECT_EQ(one.stats.crashed_peers, many.stats.crashed_peers);
      }
    }
  }
}

}  // namespace
}  // namespace murmur
