// Byzantine peers send what their attack defines: checked message by
// message through a FakeHost on tiny vectors.
#include <gtest/gtest.h>

#include <cmath>

#include "testing/fake_host.h"
#include "murmur/core/bytes.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/byzantine_dpsgd.h"
#include "murmur/protocol/byzantine_fedavg.h"
#include "murmur/protocol/byzantine_gossip.h"
#include "murmur/protocol/model_message.h"
#include "murmur/robust/attacks.h"
#include "testing/frozen_learner.h"

namespace murmur::testing {
namespace {

using Vec = std::vector<float>;

const FedAvgOptions kFedAvg{.rounds = 5, .client_fraction = 1.0, .local_epochs = 1,
                            .round_timeout = Duration::Seconds(10)};
const DpsgdOptions kDpsgd{.rounds = 3, .local_steps = 2, .round_timeout = Duration::Seconds(5)};
const PeerId kServer(9);

std::vector<uint8_t> Global(uint32_t round, const Vec& params) {
  return EncodeModelMessage(ModelMessageKind::kFedAvgGlobal, Round(round), 0, params);
}

ModelMessage Decode(const FakeHost::Sent& sent, ModelMessageKind kind, size_t dim) {
  // Non-finite payloads fail DecodeModelMessage by design; read them raw.
  ByteReader in(sent.bytes);
  ModelMessage m;
  m.kind = static_cast<ModelMessageKind>(in.ReadU8().value());
  m.round = Round(in.ReadU32().value());
  m.weight = in.ReadU64().value();
  m.params.resize(dim);
  EXPECT_TRUE(in.ReadFloatsInto(m.params).ok());
  EXPECT_EQ(m.kind, kind);
  return m;
}

// The model an honest client trains from `global` (a twin learner).
Vec HonestlyTrained(const Vec& global, int64_t first = 0, int64_t count = 64) {
  TestLearner twin(0.1, first, count);
  std::copy(global.begin(), global.end(), twin.learner->params().begin());
  twin.learner->ResetOptimizer();
  twin.learner->Train(count / 8);
  return twin.Params();
}

TEST(ChooseByzantinePeers, IsSeededSortedAndSized) {
  ByzantineConfig c{.count = 4, .attack = AttackKind::kAlie};
  const std::vector<PeerId> a = ChooseByzantinePeers(c, 20, 7);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(a, ChooseByzantinePeers(c, 20, 7));
  EXPECT_NE(a, ChooseByzantinePeers(c, 20, 8));
  for (PeerId p : a) EXPECT_LT(p.value, 20u);
  EXPECT_EQ(ByzantineCount({.fraction = 0.2, .attack = AttackKind::kIpm}, 20).value(), 4);
  EXPECT_EQ(ByzantineCount({.count = 4}, 20).value(), 0);  // attack none
  EXPECT_FALSE(ByzantineCount({.count = 2, .fraction = 0.1, .attack = AttackKind::kIpm}, 20).ok());
  EXPECT_FALSE(ByzantineCount({.count = 20, .attack = AttackKind::kIpm}, 20).ok());
  EXPECT_FALSE(ParseAttackKind("alie2").ok());
  for (const std::string& name : AttackNames()) {
    EXPECT_EQ(AttackName(ParseAttackKind(name).value()), name);
  }
}

TEST(MakePoisonedDataset, FlipsLabelsOrRelabelsTheSourceClass) {
  Dataset train{.channels = 1, .height = 1, .width = 1, .num_classes = 10,
                .features = {0.f, 1.f, 2.f, 3.f}, .labels = {0, 3, 9, 3}};
  const std::vector<int64_t> shard{1, 2, 3};
  Dataset flipped = MakePoisonedDataset(train, shard, {.attack = AttackKind::kLabelFlip});
  EXPECT_EQ(flipped.features, (Vec{1.f, 2.f, 3.f}));
  EXPECT_EQ(flipped.labels, (std::vector<int64_t>{6, 0, 6}));
  Dataset sybil = MakePoisonedDataset(
      train, shard, {.attack = AttackKind::kSybil, .source_class = 3, .target_class = 5});
  EXPECT_EQ(sybil.labels, (std::vector<int64_t>{5, 9, 5}));
}

TEST(FedAvgCoalition, CraftsOneVectorFromTheMembersDeposits) {
  auto craft = [](AttackKind attack) {
    FedAvgCoalition c({.attack = attack, .z = 1.0, .epsilon = 0.5});
    c.Register(1, PeerId(4));
    c.Register(1, PeerId(2));
    c.Deposit(1, PeerId(4), Vec{1.f, 2.f});
    EXPECT_FALSE(c.Complete(1));
    c.Deposit(1, PeerId(2), Vec{3.f, 6.f});
    EXPECT_TRUE(c.Complete(1));
    return c.Crafted(1);
  };
  const Vec alie = craft(AttackKind::kAlie);
  EXPECT_FLOAT_EQ(alie[0], static_cast<float>(2 - std::sqrt(2.0)));
  EXPECT_FLOAT_EQ(alie[1], static_cast<float>(4 - std::sqrt(8.0)));
  EXPECT_EQ(craft(AttackKind::kIpm), (Vec{-1.f, -2.f}));
  EXPECT_EQ(craft(AttackKind::kMimic), (Vec{3.f, 6.f}));  // lowest member, peer 2
  EXPECT_EQ(craft(AttackKind::kSybil), (Vec{2.f, 4.f}));
}

struct FedAvgAttacker {
  explicit FedAvgAttacker(ByzantineConfig config, PeerId self = PeerId(0), int64_t first = 0,
                          int64_t count = 64,
                          std::shared_ptr<FedAvgCoalition> shared = nullptr)
      : l(0.1, first, count),
        coalition(shared ? shared : std::make_shared<FedAvgCoalition>(config)),
        node(*l.learner, kFedAvg, kServer, config, coalition),
        host(self) {}
  TestLearner l;
  std::shared_ptr<FedAvgCoalition> coalition;
  ByzantineFedAvgClient node;
  FakeHost host;
};

TEST(ByzantineFedAvgClient, SignFlipSendsTheReversedHonestUpdate) {
  FedAvgAttacker a({.attack = AttackKind::kSignFlip, .scale = 3.0});
  const Vec global = a.l.Constant(0.01f);
  a.node.OnMessage(a.host, kServer, Global(1, global));
  a.host.FinishCompute(a.node);
  ASSERT_EQ(a.host.sent.size(), 1u);
  const ModelMessage m = Decode(a.host.sent[0], ModelMessageKind::kFedAvgUpdate, global.size());
  EXPECT_EQ(m.round, Round(1));
  EXPECT_EQ(m.weight, 64u);  // its true sample count
  const Vec honest = HonestlyTrained(global);
  double moved = 0;
  for (size_t i = 0; i < global.size(); ++i) {
    EXPECT_NEAR(m.params[i], global[i] - 3.0 * (honest[i] - global[i]), 1e-6) << i;
    moved += std::abs(honest[i] - global[i]);
  }
  EXPECT_GT(moved, 1e-3);  // training did move the model
}

TEST(ByzantineFedAvgClient, GaussianSendsGlobalPlusNoiseFromItsStream) {
  FedAvgAttacker a({.attack = AttackKind::kGaussian, .sigma = 2.0}, PeerId(3));
  const Vec global = a.l.Constant(1.f);
  a.node.OnMessage(a.host, kServer, Global(1, global));
  a.host.FinishCompute(a.node);
  const ModelMessage m = Decode(a.host.sent.at(0), ModelMessageKind::kFedAvgUpdate, global.size());
  Rng replay(1, PeerId(3), RngPurpose::kProtocol);  // FakeHost's stream
  for (size_t i = 0; i < global.size(); ++i) {
    EXPECT_EQ(m.params[i], 1.f + static_cast<float>(2.0 * replay.Normal()));
  }
}

TEST(ByzantineFedAvgClient, NanAndInfPayloadsAreNonFiniteEverywhere) {
  for (AttackKind attack : {AttackKind::kNan, AttackKind::kInf}) {
    FedAvgAttacker a({.attack = attack});
    a.node.OnMessage(a.host, kServer, Global(1, a.l.Constant(1.f)));
    a.host.FinishCompute(a.node);
    const ModelMessage m = Decode(a.host.sent.at(0), ModelMessageKind::kFedAvgUpdate, a.l.size());
    for (float v : m.params) EXPECT_FALSE(std::isfinite(v));
    // What an honest server does with it: reject the frame.
    EXPECT_FALSE(
        DecodeModelMessage(a.host.sent[0].bytes, ModelMessageKind::kFedAvgUpdate, a.l.size())
            .ok());
  }
}

TEST(ByzantineFedAvgClient, FreeRiderRepliesWithTheGlobalModelWithoutTraining) {
  FedAvgAttacker a({.attack = AttackKind::kFreeRide});
  const Vec global = a.l.Constant(0.5f);
  a.node.OnMessage(a.host, kServer, Global(1, global));
  EXPECT_TRUE(a.host.compute.empty());
  const ModelMessage m = Decode(a.host.sent.at(0), ModelMessageKind::kFedAvgUpdate, global.size());
  EXPECT_EQ(m.params, global);
  EXPECT_EQ(m.weight, 64u);
}

TEST(ByzantineFedAvgClient, CrashAndOmissionStaySilent) {
  FedAvgAttacker crash({.attack = AttackKind::kCrash, .crash_round = 2});
  crash.node.OnMessage(crash.host, kServer, Global(1, crash.l.Constant(0.f)));
  crash.host.FinishCompute(crash.node);
  EXPECT_EQ(crash.host.sent.size(), 1u);  // honest before crash_round
  crash.node.OnMessage(crash.host, kServer, Global(2, crash.l.Constant(0.f)));
  EXPECT_TRUE(crash.host.compute.empty());
  EXPECT_EQ(crash.host.sent.size(), 1u);

  FedAvgAttacker always({.attack = AttackKind::kOmission, .omission_prob = 1.0});
  FedAvgAttacker never({.attack = AttackKind::kOmission, .omission_prob = 0.0});
  for (FedAvgAttacker* a : {&always, &never}) {
    a->node.OnMessage(a->host, kServer, Global(1, a->l.Constant(0.f)));
    a->host.FinishCompute(a->node);
  }
  EXPECT_TRUE(always.host.sent.empty());
  ASSERT_EQ(never.host.sent.size(), 1u);
  EXPECT_EQ(Decode(never.host.sent[0], ModelMessageKind::kFedAvgUpdate, never.l.size()).params,
            HonestlyTrained(never.l.Constant(0.f)));
}

TEST(ByzantineFedAvgClient, AlieMembersWaitForTheCoalitionAndSendOneVector) {
  const ByzantineConfig config{.attack = AttackKind::kAlie, .z = 1.0};
  auto coalition = std::make_shared<FedAvgCoalition>(config);
  FedAvgAttacker a(config, PeerId(0), 0, 32, coalition);
  FedAvgAttacker b(config, PeerId(1), 32, 32, coalition);
  const Vec global = a.l.Constant(0.f);
  a.node.OnMessage(a.host, kServer, Global(1, global));
  b.node.OnMessage(b.host, kServer, Global(1, global));
  a.host.FinishCompute(a.node);
  EXPECT_TRUE(a.host.sent.empty());  // b has not trained yet
  ASSERT_EQ(a.host.timers.size(), 1u);
  b.host.FinishCompute(b.node);
  ASSERT_EQ(b.host.sent.size(), 1u);  // the last member crafts and sends
  a.node.OnTimer(a.host, a.host.timers[0]);
  ASSERT_EQ(a.host.sent.size(), 1u);
  EXPECT_EQ(a.host.sent[0].bytes, b.host.sent[0].bytes);

  // mu - sigma over the two honest updates, plus the global model.
  const Vec ua = HonestlyTrained(global, 0, 32);
  const Vec ub = HonestlyTrained(global, 32, 32);
  const ModelMessage m = Decode(b.host.sent[0], ModelMessageKind::kFedAvgUpdate, global.size());
  for (size_t i = 0; i < global.size(); ++i) {
    const double mu = (ua[i] + ub[i]) / 2.0;
    const double sigma = std::abs(ua[i] - ub[i]) / std::sqrt(2.0);
    EXPECT_NEAR(m.params[i], mu - sigma, 1e-6) << i;
  }
}

// A D-PSGD attacker (peer 0) with honest neighbours 1 and 2 and a fellow
// attacker 3; a frozen learner (lr 0) whose model is all 1.
struct DpsgdAttacker {
  explicit DpsgdAttacker(ByzantineConfig config, double lr = 0.0)
      : l(lr),
        node(*l.learner, kDpsgd, {PeerId(1), PeerId(2), PeerId(3)}, {PeerId(1), PeerId(2)},
             config),
        host(PeerId(0)) {
    l.Fill(1.f);
  }
  // Trains, then receives honest models 3 (peer 1) and 7 (peer 2).
  void PlayRound() {
    node.OnStart(host);
    if (!host.compute.empty()) host.FinishCompute(node);  // free riders never train
    node.OnMessage(host, PeerId(3), Model(-50.f));  // ignored
    node.OnMessage(host, PeerId(1), Model(3.f));
    EXPECT_TRUE(host.sent.empty()) << "sent before the honest models arrived";
    node.OnMessage(host, PeerId(2), Model(7.f));
  }
  std::vector<uint8_t> Model(float v) {
    return EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, l.Constant(v));
  }
  Vec SentTo(PeerId to) {
    for (const auto& s : host.sent) {
      if (s.to == to) return Decode(s, ModelMessageKind::kDpsgdParams, l.size()).params;
    }
    ADD_FAILURE() << "nothing sent to " << to;
    return {};
  }
  TestLearner l;
  ByzantineDpsgdNode node;
  FakeHost host;
};

TEST(ByzantineDpsgdNode, CraftsFromTheHonestNeighboursModels) {
  struct Case {
    ByzantineConfig config;
    float to1, to2;
  };
  // Base 1; honest updates {2, 6}: mean 4, unbiased std sqrt(8).
  const Case cases[] = {
      {{.attack = AttackKind::kIpm, .epsilon = 0.5}, -1.f, -1.f},
      {{.attack = AttackKind::kAlie, .z = 1.0},
       static_cast<float>(1 + 4 - std::sqrt(8.0)), static_cast<float>(1 + 4 - std::sqrt(8.0))},
      {{.attack = AttackKind::kMimic}, 3.f, 3.f},
      // Honest mean 5: 3 + (3 - 5) = 1 and 7 + (7 - 5) = 9.
      {{.attack = AttackKind::kEquivocation, .scale = 1.0}, 1.f, 9.f},
      {{.attack = AttackKind::kFreeRide}, 1.f, 1.f},
      {{.attack = AttackKind::kLabelFlip}, 1.f, 1.f},  // what it trained (lr 0)
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(AttackName(c.config.attack));
    DpsgdAttacker a(c.config);
    a.PlayRound();
    ASSERT_EQ(a.host.sent.size(), 2u);  // honest neighbours only
    for (size_t i = 0; i < a.l.size(); ++i) {
      EXPECT_FLOAT_EQ(a.SentTo(PeerId(1))[i], c.to1);
      EXPECT_FLOAT_EQ(a.SentTo(PeerId(2))[i], c.to2);
    }
    EXPECT_TRUE(a.host.bad_peers.empty());
    // Its own model: the mean of what it trained and the honest models.
    EXPECT_EQ(a.node.completed_rounds(), 1);
    for (float v : a.l.Params()) EXPECT_FLOAT_EQ(v, 11.f / 3.f);
  }
}

TEST(ByzantineDpsgdNode, SignFlipReversesItsOwnTrainedUpdate) {
  DpsgdAttacker a({.attack = AttackKind::kSignFlip, .scale = 2.0}, 0.1);
  TestLearner twin(0.1);
  twin.Fill(1.f);
  twin.learner->Train(kDpsgd.local_steps);
  a.PlayRound();
  const Vec sent = a.SentTo(PeerId(1));
  const Vec trained = twin.Params();
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_NEAR(sent[i], 1.f - 2.0 * (trained[i] - 1.f), 1e-6);
  }
  EXPECT_EQ(a.SentTo(PeerId(2)), sent);
}

TEST(ByzantineDpsgdNode, SendsOnTimeoutWithWhatArrivedAndCrashesForGood) {
  DpsgdAttacker a({.attack = AttackKind::kIpm, .epsilon = 1.0});
  a.node.OnStart(a.host);
  a.host.FinishCompute(a.node);
  a.node.OnMessage(a.host, PeerId(1), a.Model(3.f));
  a.node.OnTimer(a.host, a.host.timers.at(0));
  ASSERT_EQ(a.host.sent.size(), 2u);
  for (float v : a.SentTo(PeerId(2))) EXPECT_FLOAT_EQ(v, 1.f - 2.f);  // -1 * (3 - 1)

  DpsgdAttacker crash({.attack = AttackKind::kCrash, .crash_round = 2});
  crash.PlayRound();
  EXPECT_EQ(crash.host.sent.size(), 2u);  // round 1: honest
  EXPECT_TRUE(crash.host.compute.empty());  // round 2: crashed, never trains again
  EXPECT_EQ(crash.node.completed_rounds(), 1);
}

TEST(ByzantineDpsgdNode, NanPayloadIsRejectedByHonestReceivers) {
  DpsgdAttacker a({.attack = AttackKind::kNan});
  a.PlayRound();
  ASSERT_EQ(a.host.sent.size(), 2u);
  for (float v : a.SentTo(PeerId(1))) EXPECT_TRUE(std::isnan(v));
  EXPECT_FALSE(
      DecodeModelMessage(a.host.sent[0].bytes, ModelMessageKind::kDpsgdParams, a.l.size()).ok());
}

}  // namespace
}  // namespace murmur::testing

namespace murmur::testing {
namespace {

TEST(ByzantineGossipNode, EquivocatesFromEachReceiversOwnModel) {
  TestLearner l;
  l.Fill(1.f);
  ByzantineGossipNode node(*l.learner,
                           {.rounds = 50, .local_steps = 1, .period = Duration::Seconds(1)},
                           {PeerId(1), PeerId(2), PeerId(3)}, {PeerId(1), PeerId(2)},
                           {.attack = AttackKind::kEquivocation, .scale = 1.0});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  auto push = [&](PeerId from, float v) {
    node.OnMessage(host, from,
                   EncodeModelMessage(ModelMessageKind::kGossipModel, Round(1), 0, l.Constant(v)));
    if (!host.compute.empty()) host.FinishCompute(node);
  };
  push(PeerId(1), 3.f);
  push(PeerId(2), 7.f);
  push(PeerId(3), -50.f);  // a fellow attacker: ignored
  EXPECT_TRUE(host.bad_peers.empty());
  for (int i = 0; i < 20; ++i) node.OnTimer(host, host.timers.back());
  ASSERT_EQ(host.sent.size(), 20u);
  // Honest mean 5: peer 1 gets 3 + (3 - 5) = 1, peer 2 gets 7 + 2 = 9.
  int to1 = 0, to2 = 0;
  for (const auto& s : host.sent) {
    const Vec p = DecodeModelMessage(s.bytes, ModelMessageKind::kGossipModel, l.size())->params;
    ASSERT_NE(s.to, PeerId(3));
    EXPECT_EQ(p, l.Constant(s.to == PeerId(1) ? 1.f : 9.f));
    (s.to == PeerId(1) ? to1 : to2)++;
  }
  EXPECT_GT(to1, 0);
  EXPECT_GT(to2, 0);
}

}  // namespace
}  // namespace murmur::testing
