// SybilWall's protocol part (protocol/sybilwall.h): update histories, the
// record-selection probabilities of its gossip, the record frame, and a
// D-PSGD peer running it, on hand-computed inputs.
#include "murmur/protocol/sybilwall.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "testing/fake_host.h"
#include "murmur/protocol/byzantine_dpsgd.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/model_combiner.h"
#include "murmur/protocol/model_message.h"
#include "murmur/protocol/sybilwall_message.h"
#include "testing/frozen_learner.h"

namespace murmur::testing {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::Pair;
using Vec = std::vector<float>;

constexpr double kLambda = 1.0 / 1.25;

TEST(SybilWallHistory, NeighbourHistoryAccumulatesModelDifferences) {
  SybilWallHistory h(PeerId(0), kLambda);
  // (1,2); + (3,1) - (1,2) = (3,1); + (4,4) - (3,1) = (4,4).
  h.AddNeighbourModel(PeerId(1), 1, Vec{1, 2});
  EXPECT_EQ(h.records().at(PeerId(1)).history, (Vec{1, 2}));
  h.AddNeighbourModel(PeerId(1), 2, Vec{3, 1});
  EXPECT_EQ(h.records().at(PeerId(1)).history, (Vec{3, 1}));
  h.AddNeighbourModel(PeerId(1), 3, Vec{4, 4});
  const SybilWallRecord& r = h.records().at(PeerId(1));
  EXPECT_EQ(r.history, (Vec{4, 4}));
  EXPECT_EQ(r.round, 3u);
  EXPECT_EQ(r.distance, 1u);
  EXPECT_EQ(r.received_from, PeerId(1));
}

TEST(SybilWallHistory, FirstModelSupersedesAGossipedRecordOfTheNeighbour) {
  SybilWallHistory h(PeerId(0), kLambda);
  ASSERT_TRUE(h.AddGossiped(PeerId(2), PeerId(1), 1, 1, Vec{9, 9}));
  EXPECT_EQ(h.records().at(PeerId(1)).distance, 2u);
  h.AddNeighbourModel(PeerId(1), 1, Vec{1, 2});
  EXPECT_EQ(h.records().at(PeerId(1)).history, (Vec{1, 2}));
  EXPECT_EQ(h.records().at(PeerId(1)).distance, 1u);
  // Gossip never replaces a neighbour's own record, however new.
  EXPECT_FALSE(h.AddGossiped(PeerId(2), PeerId(1), 5, 1, Vec{7, 7}));
  EXPECT_EQ(h.records().at(PeerId(1)).history, (Vec{1, 2}));
}

TEST(SybilWallHistory, GossipStoresOneHopFurtherAndReplacesOnlyNewerDistantRecords) {
  SybilWallHistory h(PeerId(0), kLambda);
  ASSERT_TRUE(h.AddGossiped(PeerId(1), PeerId(5), 3, 2, Vec{1, 0}));
  const SybilWallRecord& r = h.records().at(PeerId(5));
  EXPECT_EQ(r.distance, 3u);
  EXPECT_EQ(r.received_from, PeerId(1));
  // Same round, even if closer: kept (the reference replaces on newer only).
  EXPECT_FALSE(h.AddGossiped(PeerId(2), PeerId(5), 3, 1, Vec{0, 1}));
  EXPECT_FALSE(h.AddGossiped(PeerId(2), PeerId(5), 2, 1, Vec{0, 1}));
  // Newer, even if farther: replaced.
  ASSERT_TRUE(h.AddGossiped(PeerId(2), PeerId(5), 4, 6, Vec{0, 1}));
  EXPECT_EQ(h.records().at(PeerId(5)).distance, 7u);
  EXPECT_EQ(h.records().at(PeerId(5)).received_from, PeerId(2));
  EXPECT_EQ(h.records().at(PeerId(5)).history, (Vec{0, 1}));
  // Its own record is never stored.
  EXPECT_FALSE(h.AddGossiped(PeerId(1), PeerId(0), 9, 1, Vec{1, 1}));
  EXPECT_EQ(h.records().count(PeerId(0)), 0u);
}

// Records: 1 and 2 are neighbours (distance 1); 5 came from 1 at distance
// 2; 7 came from 2 at distance 3. Weights lambda * exp(-lambda * (d - 1)):
// d=1 -> 0.8, d=2 -> 0.8 e^-0.8, d=3 -> 0.8 e^-1.6 (lambda cancels).
SybilWallHistory FourRecords() {
  SybilWallHistory h(PeerId(0), kLambda);
  h.AddNeighbourModel(PeerId(1), 1, Vec{1, 0});
  h.AddNeighbourModel(PeerId(2), 1, Vec{0, 1});
  EXPECT_TRUE(h.AddGossiped(PeerId(1), PeerId(5), 1, 1, Vec{1, 1}));
  EXPECT_TRUE(h.AddGossiped(PeerId(2), PeerId(7), 1, 2, Vec{1, -1}));
  return h;
}

// A record at the decoder's distance limit would be undecodable one hop
// further, and a history whose finite models overflowed would be rejected
// by the receiver: neither is ever forwarded, so an honest forwarder is
// never blamed for a Byzantine peer's bytes.
TEST(SybilWallHistory, NeverForwardsRecordsTheNextHopWouldReject) {
  SybilWallHistory h(PeerId(0), kLambda);
  EXPECT_FALSE(h.AddGossiped(PeerId(1), PeerId(5), 1, kSybilWallMaxDistance, Vec{1, 0}));
  EXPECT_TRUE(h.AddGossiped(PeerId(1), PeerId(5), 1, kSybilWallMaxDistance - 1, Vec{1, 0}));
  EXPECT_EQ(h.records().at(PeerId(5)).distance, kSybilWallMaxDistance);
  ASSERT_TRUE(h.AddGossiped(PeerId(1), PeerId(6), 1, 2, Vec{0, 1}));
  const float big = 3e38f;
  h.AddNeighbourModel(PeerId(2), 1, Vec{big, 0});
  h.AddNeighbourModel(PeerId(2), 2, Vec{-big, 0});  // the difference -6e38 overflows
  EXPECT_FALSE(h.records().at(PeerId(2)).finite);
  // For receiver 3 only peer 6's record is eligible: 2's overflowed, and
  // 5's weight exp(-lambda * (2^20 - 1)) underflows to 0.
  const auto p = h.SelectionProbabilities(PeerId(3));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].first, PeerId(6));
  EXPECT_DOUBLE_EQ(p[0].second, 1.0);
}

TEST(SybilWallHistory, SelectionProbabilitiesPreferNearRecords) {
  const SybilWallHistory h = FourRecords();
  // To a third peer, all four: 1, 1, e^-0.8, e^-1.6 over their sum 2.651226.
  const double e8 = std::exp(-0.8);
  const double e16 = std::exp(-1.6);
  const double total = 2 + e8 + e16;
  EXPECT_THAT(h.SelectionProbabilities(PeerId(3)),
              ElementsAre(Pair(PeerId(1), DoubleNear(1 / total, 1e-12)),
                          Pair(PeerId(2), DoubleNear(1 / total, 1e-12)),
                          Pair(PeerId(5), DoubleNear(e8 / total, 1e-12)),
                          Pair(PeerId(7), DoubleNear(e16 / total, 1e-12))));
  EXPECT_NEAR(1 / total, 0.377184, 1e-6);
  EXPECT_NEAR(e16 / total, 0.076152, 1e-6);
  // To neighbour 1: not its own record, not 5 (received from 1):
  // 2 and 7 with 1 / (1 + e^-1.6) = 0.832018 and 0.167982.
  EXPECT_THAT(h.SelectionProbabilities(PeerId(1)),
              ElementsAre(Pair(PeerId(2), DoubleNear(1 / (1 + e16), 1e-12)),
                          Pair(PeerId(7), DoubleNear(e16 / (1 + e16), 1e-12))));
  EXPECT_NEAR(1 / (1 + e16), 0.832018, 1e-6);
  // To neighbour 2: 1 and 5 with 1 / (1 + e^-0.8) and e^-0.8 / (1 + e^-0.8).
  EXPECT_THAT(h.SelectionProbabilities(PeerId(2)),
              ElementsAre(Pair(PeerId(1), DoubleNear(1 / (1 + e8), 1e-12)),
                          Pair(PeerId(5), DoubleNear(e8 / (1 + e8), 1e-12))));
}

TEST(SybilWallHistory, ChooseForDrawsWithTheSelectionProbabilities) {
  const SybilWallHistory h = FourRecords();
  Rng rng(11, PeerId(0), RngPurpose::kTest);
  std::map<PeerId, int> counts;
  constexpr int kDraws = 40000;
  for (int i = 0; i < kDraws; ++i) {
    const SybilWallRecord* r = h.ChooseFor(PeerId(1), rng);
    ASSERT_NE(r, nullptr);
    ++counts[r->origin];
  }
  EXPECT_EQ(counts.size(), 2u);  // only 2 and 7 are eligible
  // Binomial standard deviation sqrt(p (1-p) / N) = 0.0019; 5 sigma.
  EXPECT_NEAR(counts[PeerId(7)] / double(kDraws), 0.167982, 0.0095);
}

TEST(SybilWallHistory, NothingToChooseWhenEveryRecordIsExcluded) {
  SybilWallHistory h(PeerId(0), kLambda);
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  EXPECT_EQ(h.ChooseFor(PeerId(1), rng), nullptr);
  h.AddNeighbourModel(PeerId(1), 1, Vec{1, 0});
  ASSERT_TRUE(h.AddGossiped(PeerId(1), PeerId(4), 1, 1, Vec{0, 1}));
  // 1's own record and 4's (received from 1): nothing for 1.
  EXPECT_TRUE(h.SelectionProbabilities(PeerId(1)).empty());
  EXPECT_EQ(h.ChooseFor(PeerId(1), rng), nullptr);
}

TEST(SybilWallRecordFrame, RoundTrips) {
  const Vec history{0.5f, -2.0f, 3.25f};
  std::vector<uint8_t> bytes = EncodeSybilWallRecord(PeerId(17), 4, 2, history);
  EXPECT_EQ(bytes.size(), 1u + 4 + 4 + 4 + 4 + 3 * 4);
  EXPECT_TRUE(IsSybilWallRecord(bytes));
  Result<SybilWallRecordMessage> m = DecodeSybilWallRecord(bytes, 3);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->origin, PeerId(17));
  EXPECT_EQ(m->round, 4u);
  EXPECT_EQ(m->distance, 2u);
  EXPECT_EQ(m->history, history);
  EXPECT_FALSE(IsSybilWallRecord(
      EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, history)));
}

TEST(SybilWallRecordFrame, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes = EncodeSybilWallRecord(PeerId(3), 1, 1, Vec(4, 1.f));
  for (size_t len = 0; len < bytes.size(); ++len) {
    Result<SybilWallRecordMessage> m =
        DecodeSybilWallRecord(std::span<const uint8_t>(bytes.data(), len), 4);
    ASSERT_FALSE(m.ok()) << "length " << len;
    EXPECT_EQ(m.status().code(), StatusCode::kCorrupt);
  }
}

TEST(SybilWallRecordFrame, RejectsBadKindRoundDistanceCountValuesAndTrailingBytes) {
  const Vec four(4, 1.f);
  auto corrupt = [](const std::vector<uint8_t>& bytes, size_t params = 4) {
    return DecodeSybilWallRecord(bytes, params).status().code() == StatusCode::kCorrupt;
  };
  std::vector<uint8_t> ok = EncodeSybilWallRecord(PeerId(3), 1, 1, four);
  ASSERT_TRUE(DecodeSybilWallRecord(ok, 4).ok());
  EXPECT_TRUE(corrupt(ok, 5));  // dimension
  std::vector<uint8_t> kind = ok;
  kind[0] = static_cast<uint8_t>(ModelMessageKind::kDpsgdParams);
  EXPECT_TRUE(corrupt(kind));
  EXPECT_TRUE(corrupt(EncodeSybilWallRecord(PeerId(3), 0, 1, four)));  // round 0
  EXPECT_TRUE(corrupt(EncodeSybilWallRecord(PeerId(3), 1, 0, four)));  // distance 0
  EXPECT_TRUE(corrupt(EncodeSybilWallRecord(PeerId(3), 1, kSybilWallMaxDistance + 1, four)));
  EXPECT_TRUE(DecodeSybilWallRecord(
                  EncodeSybilWallRecord(PeerId(3), 1, kSybilWallMaxDistance, four), 4)
                  .ok());
  std::vector<uint8_t> trailing = ok;
  trailing.push_back(0);
  EXPECT_TRUE(corrupt(trailing));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    -std::numeric_limits<float>::infinity()}) {
    EXPECT_TRUE(corrupt(EncodeSybilWallRecord(PeerId(3), 1, 1, Vec{1.f, bad, 0.f, 0.f})));
  }
  // A count field claiming more values than the frame holds.
  std::vector<uint8_t> count = ok;
  count[13] = 0xff;
  EXPECT_TRUE(corrupt(count));
}

std::shared_ptr<const ModelCombiner> SybilWall() {
  return ModelCombiner::Make({.rule = "sybilwall"}).value();
}

// A model with value `v` at index `i`, zero elsewhere.
Vec Unit(size_t dim, size_t i, float v = 1.f) {
  Vec x(dim, 0.f);
  x[i] = v;
  return x;
}

// Two rounds among peers 0..9.
DpsgdOptions OneRound() {
  return {.rounds = 2, .local_steps = 1, .round_timeout = Duration::Seconds(5), .num_peers = 10};
}

TEST(SybilWallDpsgd, IdenticalNeighboursGetWeightZeroAndOwnModelWeightOne) {
  TestLearner l;
  l.Fill(0.f);
  const size_t dim = l.size();
  DpsgdNode node(*l.learner, OneRound(), {PeerId(1), PeerId(2), PeerId(3)},
                 {0.25, 0.25, 0.25}, 0.25, SybilWall());
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  // Round 1: three models out, no records yet (it knows nobody).
  ASSERT_EQ(host.sent.size(), 3u);
  auto model = [](const Vec& v) {
    return EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, v);
  };
  node.OnMessage(host, PeerId(1), model(Unit(dim, 0)));
  node.OnMessage(host, PeerId(2), model(Unit(dim, 0)));  // a Sybil copy of 1
  node.OnMessage(host, PeerId(3), model(Unit(dim, 1)));
  ASSERT_EQ(node.completed_rounds(), 1);
  // Scores: cos(h1, h2) = 1 -> 0, 0; h3 orthogonal -> 1. Weights own 1,
  // 3 1: (0 + e1) / 2 (Metropolis would give 0.25 e0 * 2 + 0.25 e1).
  EXPECT_EQ(host.models.at(1), Unit(dim, 1, 0.5f));
  EXPECT_TRUE(host.bad_peers.empty());
}

TEST(SybilWallDpsgd, AGossipedHistoryExposesASybilWithOneNeighbourAndIsForwarded) {
  TestLearner l;
  l.Fill(0.f);
  const size_t dim = l.size();
  DpsgdNode node(*l.learner, OneRound(), {PeerId(1), PeerId(3)}, {0.25, 0.25}, 0.5,
                 SybilWall());
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  auto model = [](uint32_t round, const Vec& v) {
    return EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(round), 0, v);
  };
  // Neighbour 3 gossips peer 9's history, identical to neighbour 1's.
  node.OnMessage(host, PeerId(3), EncodeSybilWallRecord(PeerId(9), 1, 1, Unit(dim, 0)));
  EXPECT_EQ(host.counters["sybilwall.records_stored"], 1);
  node.OnMessage(host, PeerId(1), model(1, Unit(dim, 0)));
  node.OnMessage(host, PeerId(3), model(1, Unit(dim, 1)));
  ASSERT_EQ(node.completed_rounds(), 1);
  // h1 = h9 = e0 -> 0; h3 -> 1: (0 + e1) / 2. Without 9's record h1 and h3
  // are orthogonal and the result would be (e0 + e1) / 3.
  EXPECT_EQ(host.models.at(1), Unit(dim, 1, 0.5f));

  // Round 2: after its model, each neighbour gets one record. Neighbour 3
  // may get only 1's (its own is excluded and 9's came from it).
  host.sent.clear();
  host.FinishCompute(node);
  ASSERT_EQ(host.sent.size(), 4u);  // 2 models, 2 records
  bool checked = false;
  for (const FakeHost::Sent& s : host.sent) {
    if (!IsSybilWallRecord(s.bytes)) continue;
    Result<SybilWallRecordMessage> r = DecodeSybilWallRecord(s.bytes, dim);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (s.to == PeerId(3)) {
      EXPECT_EQ(r->origin, PeerId(1));
      EXPECT_EQ(r->distance, 1u);
      EXPECT_EQ(r->round, 1u);
      EXPECT_EQ(r->history, Unit(dim, 0));
      checked = true;
    } else {
      EXPECT_EQ(s.to, PeerId(1));
      EXPECT_NE(r->origin, PeerId(1));
    }
  }
  EXPECT_TRUE(checked);
  EXPECT_EQ(host.counters["sybilwall.records_sent"], 2);
}

TEST(SybilWallDpsgd, BadRecordsAreReportedAndIgnored) {
  TestLearner l;
  const size_t dim = l.size();
  DpsgdNode node(*l.learner, OneRound(), {PeerId(1), PeerId(3)}, {0.25, 0.25}, 0.5,
                 SybilWall());
  FakeHost host(PeerId(0));
  node.OnStart(host);
  std::vector<uint8_t> truncated = EncodeSybilWallRecord(PeerId(9), 1, 1, Unit(dim, 0));
  truncated.resize(truncated.size() - 1);
  node.OnMessage(host, PeerId(1), truncated);
  node.OnMessage(host, PeerId(7), EncodeSybilWallRecord(PeerId(9), 1, 1, Unit(dim, 0)));
  node.OnMessage(host, PeerId(1), EncodeSybilWallRecord(PeerId(1), 1, 1, Unit(dim, 0)));
  node.OnMessage(host, PeerId(1), EncodeSybilWallRecord(PeerId(0), 1, 1, Unit(dim, 0)));
  node.OnMessage(host, PeerId(1), EncodeSybilWallRecord(PeerId(9), 3, 1, Unit(dim, 0)));
  // An origin outside the run: stored, such records would grow without bound.
  node.OnMessage(host, PeerId(1), EncodeSybilWallRecord(PeerId(10), 1, 1, Unit(dim, 0)));
  EXPECT_THAT(host.bad_peers, ElementsAre(PeerId(1), PeerId(7), PeerId(1), PeerId(1), PeerId(1),
                                          PeerId(1)));
  EXPECT_EQ(host.counters["sybilwall.records_stored"], 0);
  // A peer not running SybilWall rejects the frame as a bad model message.
  TestLearner plain_learner;
  DpsgdNode plain(*plain_learner.learner, OneRound(), {PeerId(1)}, {0.5}, 0.5);
  FakeHost plain_host(PeerId(0));
  plain.OnStart(plain_host);
  plain.OnMessage(plain_host, PeerId(1), EncodeSybilWallRecord(PeerId(9), 1, 1, Unit(dim, 0)));
  EXPECT_THAT(plain_host.bad_peers, ElementsAre(PeerId(1)));
}

TEST(DpsgdSybilCoalition, EveryMemberGetsTheMeanOfTheDepositsOnceComplete) {
  DpsgdSybilCoalition c;
  c.Join(PeerId(4));
  c.Join(PeerId(9));
  c.Deposit(Round(1), PeerId(4), Vec{1, 2});
  EXPECT_FALSE(c.Complete(Round(1)));
  c.Deposit(Round(1), PeerId(9), Vec{3, 6});
  EXPECT_TRUE(c.Complete(Round(1)));
  EXPECT_FALSE(c.Complete(Round(2)));
  EXPECT_EQ(c.Crafted(Round(1), PeerId(9)), (Vec{2, 4}));
  EXPECT_EQ(c.Crafted(Round(1), PeerId(4)), (Vec{2, 4}));
  // After a timeout a member crafts from what was deposited; a late
  // deposit does not change what the others already got.
  c.Deposit(Round(2), PeerId(4), Vec{5, 5});
  EXPECT_EQ(c.Crafted(Round(2), PeerId(4)), (Vec{5, 5}));
  c.Deposit(Round(2), PeerId(9), Vec{7, 7});
  EXPECT_EQ(c.Crafted(Round(2), PeerId(9)), (Vec{5, 5}));
}

TEST(ByzantineDpsgdNode, SybilsWaitForTheCoalitionAndSendItsModel) {
  TestLearner a;
  TestLearner b;
  a.Fill(1.f);
  b.Fill(3.f);
  const ByzantineConfig sybil{.count = 2, .attack = AttackKind::kSybil};
  auto coalition = std::make_shared<DpsgdSybilCoalition>();
  const DpsgdOptions options{.rounds = 1, .local_steps = 1};
  ByzantineDpsgdNode na(*a.learner, options, {PeerId(0), PeerId(2)}, {PeerId(0)}, sybil,
                        coalition);
  ByzantineDpsgdNode nb(*b.learner, options, {PeerId(0), PeerId(1)}, {PeerId(0)}, sybil,
                        coalition);
  FakeHost ha(PeerId(1));
  FakeHost hb(PeerId(2));
  na.OnStart(ha);
  nb.OnStart(hb);
  const auto honest = EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0,
                                         a.Constant(0.f));
  ha.FinishCompute(na);
  na.OnMessage(ha, PeerId(0), honest);
  // A has its honest model but B has not trained yet: A polls.
  EXPECT_TRUE(ha.sent.empty());
  ASSERT_EQ(ha.timers.size(), 1u);
  // SybilWall gossip from the honest peer is ignored, not reported.
  na.OnMessage(ha, PeerId(0), EncodeSybilWallRecord(PeerId(5), 1, 1, a.Constant(1.f)));
  EXPECT_TRUE(ha.bad_peers.empty());
  hb.FinishCompute(nb);
  nb.OnMessage(hb, PeerId(0), honest);
  na.OnTimer(ha, ha.timers[0]);
  ASSERT_EQ(ha.sent.size(), 1u);
  ASSERT_EQ(hb.sent.size(), 1u);
  // Both send the mean of the trained models (lr 0: 1 and 3) = 2.
  for (const auto* sent : {&ha.sent[0], &hb.sent[0]}) {
    EXPECT_EQ(sent->to, PeerId(0));
    Result<ModelMessage> m = DecodeModelMessage(sent->bytes, ModelMessageKind::kDpsgdParams,
                                                a.size());
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->params, a.Constant(2.f));
  }
}

// With only the output layer exchanged (train.trainable = "output"), the
// coalition crafts and sends that sub-span: honest peers decode it.
TEST(ByzantineDpsgdNode, SybilsSendOnlyTheExchangedSpan) {
  TestLearner a;
  a.Fill(1.f);
  const ByzantineConfig sybil{.count = 1, .attack = AttackKind::kSybil};
  auto coalition = std::make_shared<DpsgdSybilCoalition>();
  const int64_t span = 2;
  const DpsgdOptions options{.rounds = 1, .local_steps = 1,
                             .exchange_offset = static_cast<int64_t>(a.size()) - span,
                             .exchange_size = span};
  ByzantineDpsgdNode na(*a.learner, options, {PeerId(0)}, {PeerId(0)}, sybil, coalition);
  FakeHost ha(PeerId(1));
  na.OnStart(ha);
  ha.FinishCompute(na);
  na.OnMessage(ha, PeerId(0), EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0,
                                                 Vec(span, 0.f)));
  ASSERT_EQ(ha.sent.size(), 1u);
  Result<ModelMessage> m =
      DecodeModelMessage(ha.sent[0].bytes, ModelMessageKind::kDpsgdParams, span);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->params, Vec(span, 1.f));
}

TEST(SybilWallCombiner, ReadsItsOptionsAndRejectsBadOnes) {
  const auto combiner =
      ModelCombiner::Make({.rule = "sybilwall", .options = {{"lambda", 2.0}, {"logit", 0}}})
          .value();
  ASSERT_NE(combiner->sybilwall(), nullptr);
  EXPECT_EQ(combiner->sybilwall()->lambda, 2.0);
  EXPECT_TRUE(combiner->sybilwall()->score.pardoning);
  EXPECT_FALSE(combiner->sybilwall()->score.logit);
  EXPECT_FALSE(combiner->is_plain_average());
  EXPECT_EQ(ModelCombiner::Make({.rule = "median"}).value()->sybilwall(), nullptr);
  for (const AggregatorConfig& bad :
       {AggregatorConfig{.rule = "sybilwall", .options = {{"lambda", 0.0}}},
        AggregatorConfig{.rule = "sybilwall", .options = {{"logit", 0.5}}},
        AggregatorConfig{.rule = "sybilwall", .options = {{"tau", 1.0}}},
        AggregatorConfig{.rule = "sybilwall", .pre = {{.name = "nnm"}}}}) {
    EXPECT_EQ(ModelCombiner::Make(bad).status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace murmur::testing
