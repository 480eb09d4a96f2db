// Seeded multi-peer scenarios of the shared-randomness protocols: replicas
// stay bit-identical, the model learns, and FedKSeed clients track the
// server.
#include <gtest/gtest.h>

#include <cstring>

#include "murmur/protocol/registry.h"
#include "murmur/protocol/spsa.h"
#include "testing/scenario.h"

namespace murmur::testing {
namespace {

ProtocolConfig Spsa(int64_t rounds, SpsaConfig::Mode mode) {
  ProtocolConfig c;
  c.kind = "spsa";
  c.rounds = rounds;
  MutableProtocolOptions<SpsaConfig>(c).mode = mode;
  MutableProtocolOptions<SpsaConfig>(c).lr = 0.001;
  MutableProtocolOptions<SpsaConfig>(c).clip = 20;
  return c;
}

bool SameBits(Learner& a, Learner& b) {
  return std::memcmp(a.params().data(), b.params().data(), a.params().size_bytes()) == 0;
}

TEST(SpsaScenario, AllPeersStayBitIdenticalAndLearn) {
  // Independent initializations on purpose: the protocol starts every peer
  // from peer 0's model.
  Harness h({.peers = 8, .batch_size = 32, .same_init = false});
  const std::vector<EvalRow> rows =
      h.Run(Spsa(400, SpsaConfig::Mode::kBroadcast), {}, 2, {.every = 200});
  ASSERT_EQ(rows.back().round, 400);
  for (int i = 1; i < 8; ++i) EXPECT_TRUE(SameBits(h.learner(0), h.learner(i))) << "peer " << i;
  for (const EvalRow& row : rows) EXPECT_EQ(row.consensus_dist, 0.0);
  EXPECT_LT(rows.front().acc_mean, 0.15);  // chance on 10 classes
  EXPECT_GT(rows.back().acc_mean, 0.3);
  EXPECT_LT(rows.back().loss_mean, rows.front().loss_mean - 0.3);
}

TEST(SpsaScenario, BytesPerStepAreSixPerOtherPeer) {
  Harness h({.peers = 5, .side = 8});
  SimStats stats;
  h.Run(Spsa(10, SpsaConfig::Mode::kBroadcast), {}, 1, {.every = 10}, &stats);
  EXPECT_EQ(stats.msgs_sent, 10u * 5 * 4);
  EXPECT_EQ(stats.bytes_sent, 10u * 5 * 4 * 6);
}

TEST(SpsaScenario, FedKSeedLearnsAndClientsStayIdentical) {
  Harness h({.peers = 6, .batch_size = 32});
  ProtocolConfig c = Spsa(150, SpsaConfig::Mode::kFedKSeed);
  c.local_steps = 4;
  MutableProtocolOptions<SpsaConfig>(c).client_fraction = 1.0;
  MutableProtocolOptions<SpsaConfig>(c).seed_pool = 1024;
  MutableProtocolOptions<SpsaConfig>(c).sampling = SeedSampling::kImportance;
  const std::vector<EvalRow> rows = h.Run(c, {}, 2, {.every = 50});
  ASSERT_EQ(rows.back().round, 150);
  for (int i = 1; i < 6; ++i) EXPECT_TRUE(SameBits(h.learner(0), h.learner(i))) << "client " << i;
  EXPECT_GT(rows.back().acc_mean, rows.front().acc_mean + 0.1);
  EXPECT_LT(rows.back().loss_mean, rows.front().loss_mean - 0.2);
}

}  // namespace
}  // namespace murmur::testing
