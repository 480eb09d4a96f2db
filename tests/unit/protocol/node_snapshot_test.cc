// Save / Restore of the nodes that keep more than a barrier: gossip under a
// robust rule (its window), a Byzantine gossip peer (the honest models it
// holds), D-PSGD under SybilWall (update histories), Sybil identities and
// an "A Little Is Enough" FedAvg coalition (each member's share of the
// shared coalition), the FedAvg server under a robust rule (the round's
// replies). For each: the node's own bytes restore into a fresh node (and
// fresh coalition) that saves the same bytes, and every truncation of them
// is refused with kCorrupt, never a crash.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/core/snapshot.h"
#include "murmur/protocol/byzantine_dpsgd.h"
#include "murmur/protocol/byzantine_fedavg.h"
#include "murmur/protocol/byzantine_gossip.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/model_message.h"

namespace murmur::testing {
namespace {

const std::vector<PeerId> kNeighbours = {PeerId(1), PeerId(2), PeerId(3)};
const GossipOptions kGossip{.rounds = 5, .local_steps = 1, .period = Duration::Seconds(1),
                            .window = 2};
const DpsgdOptions kDpsgd{.rounds = 5, .local_steps = 1, .round_timeout = Duration::Seconds(1),
                          .num_peers = 4};
const FedAvgOptions kFedAvg{.rounds = 5, .client_fraction = 1.0, .local_epochs = 1,
                            .round_timeout = Duration::Seconds(1)};

std::shared_ptr<const ModelCombiner> Rule(const std::string& name) {
  return ModelCombiner::Make(AggregatorConfig{.rule = name}).value();
}

std::vector<uint8_t> SaveOf(const Node& node) {
  SnapshotWriter out;
  node.Save(out);
  return out.Take();
}

// `make` builds a fresh node (with fresh shared state where the node has
// some). Its restore of `bytes` saves `bytes` again; every shorter prefix
// is refused.
void ExpectRoundTripAndRefusedTruncations(const std::vector<uint8_t>& bytes,
                                          const std::function<std::unique_ptr<Node>()>& make) {
  std::unique_ptr<Node> fresh = make();
  ASSERT_TRUE(fresh->CanSnapshot());
  SnapshotReader in(bytes);
  const Status status = fresh->Restore(in);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(SaveOf(*fresh), bytes);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::unique_ptr<Node> node = make();
    SnapshotReader truncated(std::span<const uint8_t>(bytes).first(cut));
    EXPECT_EQ(node->Restore(truncated).code(), StatusCode::kCorrupt) << "cut at " << cut;
  }
}

std::vector<uint8_t> Model(ModelMessageKind kind, uint32_t round, const TestLearner& l,
                           float v) {
  return EncodeModelMessage(kind, Round(round), 16, l.Constant(v));
}

TEST(NodeSnapshot, RobustGossipKeepsItsWindow) {
  FrozenLearner l;
  FakeHost host(PeerId(0));
  GossipNode node(*l.learner, kGossip, kNeighbours, Rule("median"));
  ASSERT_TRUE(node.CanSnapshot());
  node.OnStart(host);
  for (uint32_t from : {1u, 2u, 3u}) {
    if (!host.compute.empty()) host.FinishCompute(node);
    node.OnMessage(host, PeerId(from), Model(ModelMessageKind::kGossipModel, 1, l, from));
  }
  // Still training on peer 3's merge: queued.
  node.OnMessage(host, PeerId(1), Model(ModelMessageKind::kGossipModel, 2, l, 4));
  const std::vector<uint8_t> bytes = SaveOf(node);
  // A window of 2 models (peers 2 and 3) and a queue of 1.
  EXPECT_GT(bytes.size(), 3 * l.size() * sizeof(float));
  ExpectRoundTripAndRefusedTruncations(bytes, [&] {
    return std::make_unique<GossipNode>(*l.learner, kGossip, kNeighbours, Rule("median"));
  });
}

TEST(NodeSnapshot, ByzantineGossipKeepsTheHonestModelsItHolds) {
  FrozenLearner l;
  FakeHost host(PeerId(0));
  const ByzantineConfig config{.attack = AttackKind::kEquivocation};
  const std::vector<PeerId> honest = {PeerId(1), PeerId(2)};
  ByzantineGossipNode node(*l.learner, kGossip, kNeighbours, honest, config);
  node.OnStart(host);
  node.OnMessage(host, PeerId(1), Model(ModelMessageKind::kGossipModel, 1, l, 1));
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(2), Model(ModelMessageKind::kGossipModel, 1, l, 2));
  host.FinishCompute(node);
  ExpectRoundTripAndRefusedTruncations(SaveOf(node), [&] {
    return std::make_unique<ByzantineGossipNode>(*l.learner, kGossip, kNeighbours, honest,
                                                 config);
  });
}

TEST(NodeSnapshot, SybilWallDpsgdKeepsItsHistories) {
  FrozenLearner l;
  FakeHost host(PeerId(0));
  const auto make = [&] {
    return std::make_unique<DpsgdNode>(*l.learner, kDpsgd, kNeighbours,
                                       std::vector<double>{0.25, 0.25, 0.25}, 0.25,
                                       Rule("sybilwall"));
  };
  std::unique_ptr<DpsgdNode> node = make();
  node->OnStart(host);
  for (uint32_t round : {1u, 2u}) {
    host.FinishCompute(*node);
    for (uint32_t from : {1u, 2u, 3u}) {
      node->OnMessage(host, PeerId(from),
                      Model(ModelMessageKind::kDpsgdParams, round, l, from * round));
    }
  }
  ASSERT_EQ(node->completed_rounds(), 2);
  ExpectRoundTripAndRefusedTruncations(SaveOf(*node), make);
}

TEST(NodeSnapshot, SybilIdentityKeepsItsShareOfTheCoalition) {
  FrozenLearner l;
  FakeHost a_host(PeerId(0));
  FakeHost b_host(PeerId(3));
  const ByzantineConfig config{.attack = AttackKind::kSybil};
  const std::vector<PeerId> honest = {PeerId(1), PeerId(2)};
  auto coalition = std::make_shared<DpsgdSybilCoalition>();
  ByzantineDpsgdNode a(*l.learner, kDpsgd, kNeighbours, honest, config, coalition);
  ByzantineDpsgdNode b(*l.learner, kDpsgd, {PeerId(0), PeerId(1), PeerId(2)}, honest, config,
                       coalition);
  a.OnStart(a_host);
  b.OnStart(b_host);
  a_host.FinishCompute(a);  // a deposits round 1 and waits for its honest neighbours
  for (uint32_t from : {1u, 2u}) {
    a.OnMessage(a_host, PeerId(from), Model(ModelMessageKind::kDpsgdParams, 1, l, from));
  }
  ASSERT_EQ(a_host.timers.size(), 2u);  // the round timeout and the coalition poll: b is due
  const std::vector<uint8_t> bytes = SaveOf(a);
  ExpectRoundTripAndRefusedTruncations(bytes, [&] {
    return std::make_unique<ByzantineDpsgdNode>(*l.learner, kDpsgd, kNeighbours, honest, config,
                                                std::make_shared<DpsgdSybilCoalition>());
  });
  // A waiting identity whose share lost its deposit is refused: Attack
  // would craft from a round the coalition does not hold. The share ends
  // the bytes: a count u64, then round u32, model (u64 + floats), fetched
  // u8, crafted (u64, empty).
  const size_t round_bytes = 4 + 8 + 4 * l.size() + 1 + 8;
  std::vector<uint8_t> no_deposit = bytes;
  const size_t count_at = bytes.size() - round_bytes - 8;
  ASSERT_EQ(no_deposit[count_at], 1);
  no_deposit[count_at] = 0;
  ByzantineDpsgdNode fresh(*l.learner, kDpsgd, kNeighbours, honest, config,
                           std::make_shared<DpsgdSybilCoalition>());
  SnapshotReader in(no_deposit);
  const Status status = fresh.Restore(in);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt);
  EXPECT_NE(status.message().find("without its deposit"), std::string::npos)
      << status.ToString();
}

TEST(NodeSnapshot, FedAvgCoalitionMemberKeepsItsShare) {
  TestLearner la(0.1, 0, 32);
  TestLearner lb(0.1, 32, 32);
  const PeerId server(4);
  const ByzantineConfig config{.attack = AttackKind::kAlie, .z = 1.0};
  auto coalition = std::make_shared<FedAvgCoalition>(config);
  FakeHost a_host(PeerId(0));
  FakeHost b_host(PeerId(1));
  ByzantineFedAvgClient a(*la.learner, kFedAvg, server, config, coalition);
  ByzantineFedAvgClient b(*lb.learner, kFedAvg, server, config, coalition);
  a.OnStart(a_host);
  b.OnStart(b_host);
  const std::vector<uint8_t> global = Model(ModelMessageKind::kFedAvgGlobal, 1, la, 0);
  a.OnMessage(a_host, server, global);
  b.OnMessage(b_host, server, global);
  a_host.FinishCompute(a);  // deposited, waiting for b
  ASSERT_TRUE(a_host.sent.empty());
  ExpectRoundTripAndRefusedTruncations(SaveOf(a), [&] {
    return std::make_unique<ByzantineFedAvgClient>(*la.learner, kFedAvg, server, config,
                                                   std::make_shared<FedAvgCoalition>(config));
  });
  // Both members restored into one fresh coalition (b's learner too, as
  // the simulator does: its training in flight runs before the snapshot)
  // send what the originals send once b's training is done: the same
  // crafted model.
  ASSERT_EQ(b_host.compute.size(), 1u);
  b_host.compute[0].work();
  b_host.compute[0].work = [] {};
  SnapshotWriter lb_state;
  lb.learner->Save(lb_state);
  TestLearner lb2(0.1, 32, 32);
  SnapshotReader lb_in(lb_state.bytes());
  ASSERT_TRUE(lb2.learner->Restore(lb_in).ok());
  auto fresh_coalition = std::make_shared<FedAvgCoalition>(config);
  ByzantineFedAvgClient a2(*la.learner, kFedAvg, server, config, fresh_coalition);
  ByzantineFedAvgClient b2(*lb2.learner, kFedAvg, server, config, fresh_coalition);
  const std::vector<uint8_t> a_bytes = SaveOf(a);
  const std::vector<uint8_t> b_bytes = SaveOf(b);
  SnapshotReader a_in(a_bytes);
  SnapshotReader b_in(b_bytes);
  ASSERT_TRUE(a2.Restore(a_in).ok());
  const Status b_status = b2.Restore(b_in);
  ASSERT_TRUE(b_status.ok()) << b_status.ToString();
  FakeHost b2_host = b_host;
  FakeHost a2_host = a_host;
  b_host.FinishCompute(b);
  ASSERT_EQ(b_host.sent.size(), 1u);  // the last member crafts and sends
  b2_host.FinishCompute(b2);
  ASSERT_EQ(b2_host.sent.size(), 1u);
  EXPECT_EQ(b2_host.sent[0].bytes, b_host.sent[0].bytes);
  a.OnTimer(a_host, a_host.timers.back());
  a2.OnTimer(a2_host, a2_host.timers.back());
  ASSERT_EQ(a_host.sent.size(), 1u);
  ASSERT_EQ(a2_host.sent.size(), 1u);
  EXPECT_EQ(a2_host.sent[0].bytes, a_host.sent[0].bytes);
  EXPECT_EQ(a_host.sent[0].bytes, b_host.sent[0].bytes);
}

TEST(NodeSnapshot, RobustFedAvgServerKeepsTheRoundsReplies) {
  FrozenLearner l;
  FakeHost host(PeerId(3));
  const std::vector<PeerId> clients = {PeerId(0), PeerId(1), PeerId(2)};
  const auto make = [&] {
    return std::make_unique<FedAvgServer>(l.Constant(0), kFedAvg, clients, Rule("median"));
  };
  std::unique_ptr<FedAvgServer> server = make();
  server->OnStart(host);
  for (uint32_t from : {0u, 1u}) {
    server->OnMessage(host, PeerId(from), Model(ModelMessageKind::kFedAvgUpdate, 1, l, from + 1));
  }
  ASSERT_EQ(server->completed_rounds(), 0);  // client 2 has not replied
  const std::vector<uint8_t> bytes = SaveOf(*server);
  ExpectRoundTripAndRefusedTruncations(bytes, make);
  // The restored server finishes the round as the original does.
  std::unique_ptr<FedAvgServer> restored = make();
  SnapshotReader in(bytes);
  ASSERT_TRUE(restored->Restore(in).ok());
  FakeHost twin = host;
  server->OnMessage(host, PeerId(2), Model(ModelMessageKind::kFedAvgUpdate, 1, l, 9));
  restored->OnMessage(twin, PeerId(2), Model(ModelMessageKind::kFedAvgUpdate, 1, l, 9));
  ASSERT_EQ(restored->completed_rounds(), 1);
  EXPECT_EQ(std::vector<float>(restored->global_model().begin(), restored->global_model().end()),
            l.Constant(2));  // the median of 1, 2 and 9
  EXPECT_EQ(SaveOf(*restored), SaveOf(*server));
}

}  // namespace
}  // namespace murmur::testing
