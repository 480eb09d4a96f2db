// Seeded scenarios for MoDeST, Epidemic Learning, variance-corrected gossip
// and the late communication schedule: each shows its defining property and
// learns the non-IID task (scenario.h: each peer holds one or two classes)
// by a wide margin over local-only training of the same peers, measured in
// the same test, so a protocol whose mixing step is gone fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "testing/scenario.h"
#include "murmur/protocol/dfedsam.h"
#include "murmur/protocol/registry.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/fedcompass.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/modest.h"

namespace murmur::testing {
namespace {

ProtocolConfig Modest(int64_t rounds, int64_t s, int64_t a) {
  ProtocolConfig c;
  c.kind = "modest";
  c.rounds = rounds;
  c.local_steps = 5;
  MutableProtocolOptions<ModestConfig>(c).trainers = s;
  MutableProtocolOptions<ModestConfig>(c).aggregators = a;
  c.round_timeout_s = 2.0;
  MutableProtocolOptions<ModestConfig>(c).ping_timeout_s = 0.1;
  return c;
}

TEST(Modest, EachRoundHasExactlySTrainersAndAAggregatorsAndLearns) {
  const HarnessOptions task = NonIid({.peers = 16});
  const double local = LocalOnlyAccuracy(task, 20, 5);
  Harness h(task);
  std::vector<Node*> nodes;
  SimStats stats;
  const ProtocolConfig c = Modest(20, 4, 2);
  std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 5}, &stats, &nodes);
  std::map<int64_t, int> trainers;
  std::map<int64_t, int> aggregators;
  for (Node* node : nodes) {
    const auto* modest = dynamic_cast<const ModestNode*>(node);
    ASSERT_NE(modest, nullptr);
    for (int64_t r : modest->trained_rounds()) ++trainers[r];
    for (int64_t r : modest->aggregated_rounds()) ++aggregators[r];
  }
  for (int64_t r = 1; r <= c.rounds; ++r) {
    EXPECT_EQ(trainers[r], 4) << "round " << r;
    // The run stops at the first report of its last round, before the
    // other aggregator of that round closes.
    EXPECT_EQ(aggregators[r], r < c.rounds ? 2 : 1) << "round " << r;
  }
  // The peers that trained round 1 are the first s of the shared ranking
  // (the harness's seed is 1).
  std::vector<PeerId> all;
  for (uint32_t i = 0; i < 16; ++i) all.push_back(PeerId(i));
  const auto order = ModestCandidates(1, 1, ModestRole::kTrainer, all);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const auto& trained = dynamic_cast<const ModestNode*>(nodes[i])->trained_rounds();
    const bool first = std::find(trained.begin(), trained.end(), 1) != trained.end();
    const bool ranked = std::find(order.begin(), order.begin() + 4,
                                  PeerId(static_cast<uint32_t>(i))) != order.begin() + 4;
    EXPECT_EQ(first, ranked) << "peer " << i;
  }
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().round, c.rounds);
  EXPECT_GT(rows.back().acc_mean, 0.85);
  EXPECT_GT(rows.back().acc_mean, local + 0.5) << "local-only reaches " << local;
  EXPECT_EQ(stats.bad_peer_reports, 0u);
}

// 16 of 20 peers crash at once, either before the model converged (0.1 s:
// after round 3, accuracy still below 0.75) or after (0.3 s: round 8, above
// 0.95). Every round still completes; after the early crash the 4 survivors
// (at most 8 of the 10 classes between them) keep improving the model well
// past what it was at the crash.
TEST(Modest, KeepsTrainingWhenEightyPercentOfPeersCrashBeforeOrAfterConvergence) {
  const HarnessOptions task = NonIid({.peers = 20});
  const double local = LocalOnlyAccuracy(task, 30, 5);
  for (double crash_s : {0.1, 0.3}) {
    SCOPED_TRACE("crash at " + std::to_string(crash_s) + " s");
    Harness h(task);
    SimConfig sim;
    sim.crash = CrashConfig{.fraction = 0.8, .at_s = crash_s};
    SimStats stats;
    std::vector<Node*> nodes;
    const ProtocolConfig c = Modest(30, 4, 2);
    std::vector<EvalRow> rows = h.Run(c, sim, 1, {.every = 1}, &stats, &nodes);
    EXPECT_EQ(stats.crashed_peers, 16u);
    ASSERT_FALSE(rows.empty());
    // Every round completed, well after the crash.
    EXPECT_EQ(rows.back().round, c.rounds);
    EXPECT_GT(rows.back().time_s, crash_s);
    double at_crash = 0;
    for (const EvalRow& row : rows) {
      if (row.time_s <= crash_s) at_crash = row.acc_mean;
    }
    if (crash_s < 0.2) {
      EXPECT_LT(at_crash, 0.75) << "the model had converged before the crash";
      EXPECT_GT(rows.back().acc_mean, at_crash + 0.1);
    } else {
      EXPECT_GT(at_crash, 0.95);
      EXPECT_GT(rows.back().acc_mean, 0.95);
    }
    EXPECT_GT(rows.back().acc_mean, local + 0.5) << "local-only reaches " << local;
    // Survivors learned who is gone: some peer's view lost most crashed peers.
    size_t smallest_view = 20;
    for (Node* node : nodes) {
      smallest_view =
          std::min(smallest_view, dynamic_cast<const ModestNode*>(node)->View().size());
    }
    EXPECT_LT(smallest_view, 12u);
  }
}

// Peers go offline and come back (churn) while 10% of messages are lost:
// every round still completes, and peers that were away are sampled as
// trainers again after they return, so the view re-admits them.
TEST(Modest, KeepsTrainingUnderChurnAndReadmitsReturningPeers) {
  const HarnessOptions task = NonIid({.peers = 16});
  const double local = LocalOnlyAccuracy(task, 40, 5);
  Harness h(task);
  SimConfig sim;
  sim.link.loss = 0.1;
  sim.churn = ChurnConfig{.mean_online_s = 1.0, .mean_offline_s = 0.5};
  SimStats stats;
  std::vector<Node*> nodes;
  const ProtocolConfig c = Modest(40, 4, 2);
  std::vector<EvalRow> rows = h.Run(c, sim, 1, {.every = 10}, &stats, &nodes);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().round, c.rounds);
  EXPECT_GT(stats.msgs_offline, 0u);
  EXPECT_GT(stats.msgs_lost, 0u);
  EXPECT_GT(rows.back().acc_mean, 0.8);
  EXPECT_GT(rows.back().acc_mean, local + 0.5) << "local-only reaches " << local;
  std::map<int64_t, int> trainers;
  int trained_late = 0;
  for (Node* node : nodes) {
    const auto& rounds = dynamic_cast<const ModestNode*>(node)->trained_rounds();
    for (int64_t r : rounds) ++trainers[r];
    if (std::any_of(rounds.begin(), rounds.end(), [&](int64_t r) { return r > c.rounds / 2; })) {
      ++trained_late;
    }
  }
  // Over ~50 virtual seconds every peer goes offline dozens of times (mean
  // cycle 1.5 s), so each peer that trains in the second half was readmitted
  // after being away; with seed 1, 10 of the 16 are.
  EXPECT_GE(trained_late, 8);
  for (int64_t r = 1; r <= c.rounds; ++r) EXPECT_GE(trainers[r], 1) << "round " << r;
}

TEST(EpidemicLearning, EveryPeerSendsExactlySModelsPerRoundAndLearns) {
  const HarnessOptions task = NonIid({.peers = 10});
  const double local = LocalOnlyAccuracy(task, 15, 5);
  Harness h(task);
  ProtocolConfig c;
  c.kind = "epidemic";
  c.rounds = 15;
  c.local_steps = 5;
  MutableProtocolOptions<EpidemicConfig>(c).fanout = 3;
  SimStats stats;
  std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 5}, &stats);
  EXPECT_EQ(stats.msgs_sent, 10u * 3u * 15u);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().round, 15);
  EXPECT_EQ(rows.back().peers_evaluated, 10);
  EXPECT_GT(rows.back().acc_mean, 0.85);
  EXPECT_GT(rows.back().acc_mean, local + 0.5) << "local-only reaches " << local;
}

ProtocolConfig FullGossip(int64_t rounds, MergeRule merge) {
  ProtocolConfig c;
  c.kind = "gossip";
  c.rounds = rounds;
  c.local_steps = 5;
  MutableProtocolOptions<GossipConfig>(c).topology.kind = TopologyKind::kFullyConnected;
  MutableProtocolOptions<GossipConfig>(c).merge = merge;
  return c;
}

// Vanishing Variance's setting: MLPs initialised independently. With no
// training (lr 0) gossip only merges, so plain averaging shrinks each
// weight tensor's spread across its values (towards 1/k of the Kaiming
// variance) while the corrected merge keeps every tensor at its mean input
// variance: after 10 rounds the first layer's weights of every peer still
// have within 5% of the initial variance, and plain averaging's less than
// half of it.
TEST(Gossip, VarianceCorrectedMergeKeepsTheWeightVarianceThatAveragingShrinks) {
  const HarnessOptions frozen{.peers = 8, .model = ModelKind::kMlp,
                              .optimizer = {.lr = 0.0}, .same_init = false};
  const auto layer_variance = [](Harness& h, int64_t peer) {
    const ParamTensor t = h.model().tensors()[0];
    const std::span<const float> w = h.learner(peer).params().subspan(t.offset, t.size);
    double mean = 0, var = 0;
    for (float v : w) mean += v;
    mean /= static_cast<double>(w.size());
    for (float v : w) var += (v - mean) * (v - mean);
    return var / static_cast<double>(w.size());
  };
  Harness corrected(frozen);
  Harness plain(frozen);
  double init = 0;
  for (int64_t i = 0; i < 8; ++i) init += layer_variance(corrected, i) / 8;
  corrected.Run(FullGossip(10, MergeRule::kVarianceCorrected));
  plain.Run(FullGossip(10, MergeRule::kAverage));
  for (int64_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(layer_variance(corrected, i), init, 0.05 * init) << "peer " << i;
    EXPECT_LT(layer_variance(plain, i), 0.5 * init) << "peer " << i;
  }
}

// And so it learns faster: on the non-IID task from independent MLP inits,
// 10 rounds of variance-corrected gossip beat the same schedule with plain
// averaging (0.64 vs 0.43 with seed 1) and local-only training (0.25).
TEST(Gossip, VarianceCorrectedMergeLearnsFasterThanPlainAveraging) {
  const HarnessOptions task = NonIid({.peers = 8, .model = ModelKind::kMlp, .same_init = false});
  const double local = LocalOnlyAccuracy(task, 10, 5);
  Harness corrected(task);
  Harness plain(task);
  std::vector<EvalRow> vc = corrected.Run(FullGossip(10, MergeRule::kVarianceCorrected));
  std::vector<EvalRow> avg = plain.Run(FullGossip(10, MergeRule::kAverage));
  ASSERT_FALSE(vc.empty());
  ASSERT_FALSE(avg.empty());
  EXPECT_EQ(vc.back().round, 10);
  EXPECT_GT(vc.back().acc_mean, avg.back().acc_mean + 0.1);
  EXPECT_GT(vc.back().acc_mean, local + 0.3) << "local-only reaches " << local;
}

TEST(Dpsgd, LateScheduleSendsNothingBeforeItsWindowThenMergesEveryone) {
  const int64_t n = 8;
  const HarnessOptions task = NonIid({.peers = n});
  const double local = LocalOnlyAccuracy(task, 12, 5);
  Harness h(task);
  ProtocolConfig c;
  c.kind = "dpsgd";
  c.rounds = 12;
  c.local_steps = 5;
  MutableProtocolOptions<DpsgdConfig>(c).topology.kind = TopologyKind::kRing;
  MutableProtocolOptions<DpsgdConfig>(c).comm_schedule = CommSchedule::kLate;
  MutableProtocolOptions<DpsgdConfig>(c).comm_budget = 4;
  MutableProtocolOptions<DpsgdConfig>(c).final_merge = true;
  SimStats stats;
  std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 1}, &stats);
  ASSERT_EQ(rows.size(), 13u);
  for (const EvalRow& row : rows) {
    if (row.round <= c.rounds - MutableProtocolOptions<DpsgdConfig>(c).comm_budget) {
      EXPECT_EQ(row.bytes_sent, 0u) << "round " << row.round;
      // Local training only so far: no better than the local-only baseline.
      EXPECT_LT(row.acc_mean, local + 0.05) << "round " << row.round;
    }
  }
  // Rounds 9-11 gossip on the ring (2 neighbours each); round 12 is the
  // global merge (every peer to every other).
  EXPECT_EQ(stats.msgs_sent, static_cast<uint64_t>(3 * n * 2 + n * (n - 1)));
  // After the global merge every peer holds the same model.
  EXPECT_LT(rows.back().consensus_dist, 1e-5);
  EXPECT_GT(rows.back().acc_mean, 0.85);
  EXPECT_GT(rows.back().acc_mean, local + 0.4) << "local-only reaches " << local;
}

TEST(Dfedsam, MultipleGossipStepsPerRoundWithSharpnessAwareTraining) {
  const int64_t n = 8;
  const HarnessOptions task = NonIid({.peers = n, .optimizer = {.lr = 0.05, .sam_rho = 0.05}});
  const double local = LocalOnlyAccuracy(task, 12, 5);
  Harness h(task);
  ProtocolConfig c;
  c.kind = "dfedsam";
  c.rounds = 12;
  c.local_steps = 5;
  MutableProtocolOptions<DfedsamConfig>(c).gossip_steps = 3;
  MutableProtocolOptions<DfedsamConfig>(c).topology.kind = TopologyKind::kRing;
  SimStats stats;
  std::vector<Node*> nodes;
  std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 4}, &stats, &nodes);
  // Q = 3 gossip steps to each of 2 ring neighbours, every round.
  EXPECT_EQ(stats.msgs_sent, static_cast<uint64_t>(12 * 3 * n * 2));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().round, 12);
  EXPECT_GT(rows.back().acc_mean, 0.85);
  EXPECT_GT(rows.back().acc_mean, local + 0.4) << "local-only reaches " << local;
}

TEST(Dfedsam, MoreGossipStepsGiveCloserModels) {
  double distance[2];
  for (int q : {1, 4}) {
    Harness h({.peers = 8, .optimizer = {.lr = 0.05, .sam_rho = 0.05}});
    ProtocolConfig c;
    c.kind = "dfedsam";
    c.rounds = 8;
    c.local_steps = 5;
    MutableProtocolOptions<DfedsamConfig>(c).gossip_steps = q;
    MutableProtocolOptions<DfedsamConfig>(c).topology.kind = TopologyKind::kRing;
    std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 8});
    ASSERT_FALSE(rows.empty());
    distance[q == 1 ? 0 : 1] = rows.back().consensus_dist;
  }
  EXPECT_LT(distance[1], 0.5 * distance[0]);
}

}  // namespace
}  // namespace murmur::testing
