// Byzantine peers in seeded simulations on synthetic data: plain averaging
// breaks under attack, a robust rule holds, and non-finite models never
// reach an honest peer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "testing/scenario.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/registry.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/dfedsam.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedbuff.h"
#include "murmur/protocol/fedcompass.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/modest.h"

namespace murmur::testing {
namespace {

ProtocolConfig FedAvg(AttackKind attack, const std::string& rule, int f) {
  ProtocolConfig c;
  c.kind = "fedavg";
  c.rounds = 5;
  c.byzantine = {.count = 2, .attack = attack, .scale = 10.0};
  c.robust = {.rule = rule, .f = f};
  return c;
}

ProtocolConfig Dpsgd(AttackKind attack, const std::string& rule, int f) {
  ProtocolConfig c;
  c.kind = "dpsgd";
  c.rounds = 20;
  c.local_steps = 5;
  MutableProtocolOptions<DpsgdConfig>(c).topology = {.kind = TopologyKind::kRegular, .degree = 6};
  c.byzantine = {.count = 2, .attack = attack, .scale = 10.0};
  c.robust = {.rule = rule, .f = f};
  return c;
}

double FinalAccuracy(Harness& h, const ProtocolConfig& c, SimStats* stats = nullptr) {
  const std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 5}, stats);
  return rows.back().acc_mean;
}

TEST(ByzantineFedAvg, MeanBreaksUnderSignFlipAndTrimmedMeanHolds) {
  Harness h({.peers = 10});
  const double clean = FinalAccuracy(h, FedAvg(AttackKind::kNone, "mean", 0));
  Harness h2({.peers = 10});
  const double mean = FinalAccuracy(h2, FedAvg(AttackKind::kSignFlip, "mean", 0));
  Harness h3({.peers = 10});
  const double trimmed = FinalAccuracy(h3, FedAvg(AttackKind::kSignFlip, "trimmed-mean", 2));
  EXPECT_GT(clean, 0.85);
  EXPECT_LT(mean, clean - 0.3);
  EXPECT_GT(trimmed, clean - 0.05);
}

TEST(ByzantineDpsgd, EquivocationIsToleratedByTrimmedMean) {
  Harness h({.peers = 12});
  const double clean = FinalAccuracy(h, Dpsgd(AttackKind::kNone, "mean", 0));
  Harness h2({.peers = 12});
  const double mean = FinalAccuracy(h2, Dpsgd(AttackKind::kEquivocation, "mean", 0));
  Harness h3({.peers = 12});
  const double trimmed =
      FinalAccuracy(h3, Dpsgd(AttackKind::kEquivocation, "trimmed-mean", 2));
  EXPECT_GT(clean, 0.85);
  EXPECT_LT(mean, clean - 0.2);
  EXPECT_GT(trimmed, clean - 0.05);
}

bool AllFinite(std::span<const float> v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

TEST(ByzantineNan, NonFiniteModelsNeverReachAnHonestPeer) {
  // D-PSGD with the default Metropolis average: NaN models from 2 peers.
  {
    Harness h({.peers = 10});
    const ProtocolConfig c = Dpsgd(AttackKind::kNan, "mean", 0);
    SimStats stats;
    const std::vector<EvalRow> rows = h.Run(c, {}, 1, {.every = 5}, &stats);
    EXPECT_GT(stats.bad_peer_reports, 0u);  // the crafted frames were rejected
    EXPECT_GT(rows.back().acc_mean, 0.85);
    const std::vector<PeerId> byzantine = ChooseByzantinePeers(c.byzantine, 10, 1);
    for (uint32_t i = 0; i < 10; ++i) {
      if (std::binary_search(byzantine.begin(), byzantine.end(), PeerId(i))) continue;
      EXPECT_TRUE(AllFinite(h.learner(i).params())) << "peer " << i;
    }
  }
  // FedAvg with a robust rule: +Inf updates from 2 clients.
  {
    Harness h({.peers = 10});
    SimStats stats;
    std::vector<Node*> nodes;
    const std::vector<EvalRow> rows =
        h.Run(FedAvg(AttackKind::kInf, "median", 2), {}, 1, {.every = 5}, &stats, &nodes);
    EXPECT_GT(stats.bad_peer_reports, 0u);
    EXPECT_GT(rows.back().acc_mean, 0.85);
    const auto* server = dynamic_cast<const FedAvgServer*>(nodes.back());
    ASSERT_NE(server, nullptr);
    EXPECT_TRUE(AllFinite(server->global_model()));
  }
}

}  // namespace
}  // namespace murmur::testing
