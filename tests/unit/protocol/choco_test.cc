// CHOCO-SGD's node driven event by event through a FakeHost.
#include "murmur/protocol/choco.h"

#include <gtest/gtest.h>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/protocol/coded_message.h"

namespace murmur::testing {
namespace {

std::shared_ptr<const Codec> Fp32() { return MakeCodec("fp32").value(); }

std::vector<uint8_t> Message(CodedMessageKind kind, uint32_t round,
                             const std::vector<float>& payload, uint32_t sequence = 0) {
  ByteWriter out;
  WriteCodedMessageHeader({.kind = kind, .round = Round(round), .sequence = sequence}, out);
  if (!payload.empty()) EXPECT_TRUE(MakeCodec("fp32").value()->Encode(payload, {}, out).ok());
  return std::move(out).Take();
}

std::vector<uint8_t> Delta(uint32_t round, const std::vector<float>& q) {
  return Message(CodedMessageKind::kChocoDelta, round, q);
}

std::vector<float> Payload(const std::vector<uint8_t>& bytes, size_t dim) {
  Result<CodedMessage> m = ReadCodedMessage(bytes, CodedMessageKind::kChocoDelta);
  EXPECT_TRUE(m.ok());
  std::vector<float> out(dim);
  EXPECT_TRUE(MakeCodec("fp32").value()->Decode(m->payload, {}, out).ok());
  return out;
}

CodedMessageKind KindOf(const std::vector<uint8_t>& bytes) {
  return static_cast<CodedMessageKind>(bytes.at(0));
}

ChocoOptions Options(int64_t rounds, double gamma) {
  return {.rounds = rounds, .local_steps = 1, .gamma = gamma,
          .round_timeout = Duration::Seconds(5), .seed = 1};
}

// With Q = identity and gamma = 1, x_hat_j is x_j after training, so the mix
// is x_i + sum_j w_ij (x_j - x_i): D-PSGD's average (same numbers as
// DpsgdNode.MixesWithMetropolisWeightsBuffersFutureRoundsAndDropsPastOnes).
TEST(ChocoNode, IdentityCodecWithGammaOneMixesLikeGossipAveraging) {
  FrozenLearner l;
  l.Fill(3.f);
  ChocoNode node(*l.learner, Options(3, 1.0), Fp32(), {PeerId(1), PeerId(2)}, {0.25, 0.25});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  ASSERT_EQ(host.sent.size(), 2u);
  // x_hat starts at 0, so the first delta is the whole model.
  EXPECT_EQ(Payload(host.sent[0].bytes, l.Constant(0).size()), l.Constant(3.f));
  EXPECT_EQ(host.sent[0].bytes, host.sent[1].bytes);
  node.OnMessage(host, PeerId(1), Delta(1, l.Constant(5.f)));
  node.OnMessage(host, PeerId(1), Delta(2, l.Constant(95.f)));  // early: buffered
  EXPECT_EQ(node.completed_rounds(), 0);
  // The round-2 delta waits for the round-1 mix.
  EXPECT_EQ(std::vector<float>(node.neighbour_public_model(0).begin(),
                               node.neighbour_public_model(0).end()),
            l.Constant(5.f));
  node.OnMessage(host, PeerId(2), Delta(1, l.Constant(9.f)));
  ASSERT_EQ(node.completed_rounds(), 1);
  // 3 + 0.25 (5 - 3) + 0.25 (9 - 3) = 5.
  EXPECT_EQ(host.models.at(1), l.Constant(5.f));
  EXPECT_EQ(std::vector<float>(node.neighbour_public_model(0).begin(),
                               node.neighbour_public_model(0).end()),
            l.Constant(100.f));
  ASSERT_EQ(host.sent.size(), 2u);  // no resync request: nothing was lost
  host.FinishCompute(node);
  EXPECT_EQ(Payload(host.sent[2].bytes, l.Constant(0).size()), l.Constant(2.f));  // 5 - 3
  EXPECT_EQ(std::vector<float>(node.public_model().begin(), node.public_model().end()),
            l.Constant(5.f));
  node.OnMessage(host, PeerId(2), Delta(2, l.Constant(-8.f)));  // x_hat_2 = 1
  ASSERT_EQ(node.completed_rounds(), 2);
  // 5 + 0.25 (100 - 5) + 0.25 (1 - 5) = 27.75 = 0.5 * 5 + 0.25 * 100 + 0.25 * 1.
  EXPECT_EQ(host.models.at(2), l.Constant(27.75f));
  EXPECT_TRUE(host.bad_peers.empty());
}

// Peers that start from the same model start their public copies at it,
// so an unchanged model sends a zero delta instead of itself.
TEST(ChocoNode, PublicCopiesCanStartAtTheSharedInitialModel) {
  FrozenLearner l;
  l.Fill(3.f);
  ChocoOptions options = Options(1, 1.0);
  options.public_start = ChocoPublicStart::kSharedInitialModel;
  ChocoNode node(*l.learner, options, Fp32(), {PeerId(1)}, {0.5});
  FakeHost host(PeerId(0));
  EXPECT_EQ(std::vector<float>(node.neighbour_public_model(0).begin(),
                               node.neighbour_public_model(0).end()),
            l.Constant(3.f));
  node.OnStart(host);
  host.FinishCompute(node);
  EXPECT_EQ(Payload(host.sent[0].bytes, l.Constant(0).size()), l.Constant(0.f));
  node.OnMessage(host, PeerId(1), Delta(1, l.Constant(2.f)));  // x_hat_1 = 5
  // 3 + 0.5 (5 - 3) = 4.
  EXPECT_EQ(host.models.at(1), l.Constant(4.f));
}

TEST(ChocoNode, GammaScalesTheConsensusStep) {
  FrozenLearner l;
  l.Fill(2.f);
  ChocoNode node(*l.learner, Options(1, 0.5), Fp32(), {PeerId(1)}, {0.5});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(1), Delta(1, l.Constant(6.f)));
  // 2 + 0.5 * 0.5 * (6 - 2) = 3.
  EXPECT_EQ(host.models.at(1), l.Constant(3.f));
}

// A lost delta leaves this peer's copy of the neighbour behind: the round
// times out without its term, the next delta reveals the gap, a resync
// request goes out, and the snapshot puts the copy back in step.
TEST(ChocoNode, ResyncsAfterALostDelta) {
  FrozenLearner l;
  l.Fill(2.f);
  ChocoNode node(*l.learner, Options(3, 1.0), Fp32(), {PeerId(1)}, {0.5});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);  // round 1: neighbour's delta is lost
  ASSERT_EQ(host.timers.size(), 1u);
  node.OnTimer(host, host.timers[0]);
  ASSERT_EQ(node.completed_rounds(), 1);
  EXPECT_EQ(host.models.at(1), l.Constant(2.f));  // no term: weight stays home
  EXPECT_EQ(host.counters["choco.round_timeouts"], 1);
  EXPECT_EQ(host.counters["choco.stale_neighbours"], 1);

  host.FinishCompute(node);  // round 2 (lr 0: x stays 2, delta 0)
  const size_t before = host.sent.size();
  node.OnMessage(host, PeerId(1), Delta(2, l.Constant(1.f)));
  ASSERT_EQ(host.sent.size(), before + 1);
  EXPECT_EQ(host.sent.back().to, PeerId(1));
  EXPECT_EQ(KindOf(host.sent.back().bytes), CodedMessageKind::kChocoResyncRequest);
  const CodedMessageHeader request =
      ReadCodedMessage(host.sent.back().bytes, CodedMessageKind::kChocoDelta)->header;
  EXPECT_EQ(request.sequence, 0u);  // applied nothing of peer 1 yet
  EXPECT_EQ(request.weight, 2u);    // holds its round-2 delta already
  EXPECT_EQ(host.counters["choco.resync_requests"], 1);
  EXPECT_EQ(node.completed_rounds(), 1);

  // The neighbour's whole public model after its round 2: 10.
  node.OnMessage(host, PeerId(1),
                 Message(CodedMessageKind::kChocoSnapshot, 2, l.Constant(10.f)));
  ASSERT_EQ(node.completed_rounds(), 2);
  // 2 + 0.5 (10 - 2) = 6; the buffered round-2 delta was covered.
  EXPECT_EQ(host.models.at(2), l.Constant(6.f));
  EXPECT_EQ(host.counters["choco.resyncs_applied"], 1);

  // Back in sequence: round 3's delta applies on top of the snapshot.
  host.FinishCompute(node);  // x = 6, x_hat_0 = 2 + 0 = 2 -> q = 4, x_hat_0 = 6
  node.OnMessage(host, PeerId(1), Delta(3, l.Constant(-2.f)));  // x_hat_1 = 8
  ASSERT_EQ(node.completed_rounds(), 3);
  // 6 + 0.5 (8 - 6) = 7.
  EXPECT_EQ(host.models.at(3), l.Constant(7.f));
  EXPECT_TRUE(host.bad_peers.empty());
}

// A peer that fell far behind (e.g. was offline) drops deltas too far
// ahead to buffer, and asks for a snapshot instead of waiting forever.
TEST(ChocoNode, AsksForASnapshotWhenADeltaIsTooFarAhead) {
  FrozenLearner l;
  ChocoNode node(*l.learner, Options(20, 1.0), Fp32(), {PeerId(1)}, {0.5});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  node.OnMessage(host, PeerId(1), Delta(10, l.Constant(1.f)));
  ASSERT_EQ(host.sent.size(), 1u);
  EXPECT_EQ(KindOf(host.sent[0].bytes), CodedMessageKind::kChocoResyncRequest);
  EXPECT_EQ(host.counters["choco.far_ahead_deltas"], 1);
  node.OnMessage(host, PeerId(1),
                 Message(CodedMessageKind::kChocoSnapshot, 10, l.Constant(4.f)));
  EXPECT_EQ(host.counters["choco.resyncs_applied"], 1);
  EXPECT_EQ(std::vector<float>(node.neighbour_public_model(0).begin(),
                               node.neighbour_public_model(0).end()),
            l.Constant(4.f));
}

// A resync request is answered with the missed deltas while they are still
// kept (the last 4), else with the whole public model; once per round.
TEST(ChocoNode, AnswersAResyncRequestWithMissedDeltasOrASnapshot) {
  FrozenLearner l;
  l.Fill(4.f);
  ChocoNode node(*l.learner, Options(10, 1.0), Fp32(), {PeerId(1)}, {0.5});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);  // public model = 4 after round 1
  const std::vector<uint8_t> delta1 = host.sent.back().bytes;
  size_t before = host.sent.size();
  node.OnMessage(host, PeerId(1), Message(CodedMessageKind::kChocoResyncRequest, 1, {}, 0));
  node.OnMessage(host, PeerId(1), Message(CodedMessageKind::kChocoResyncRequest, 1, {}, 0));
  ASSERT_EQ(host.sent.size(), before + 1);  // once per round
  EXPECT_EQ(host.sent.back().bytes, delta1);  // the round-1 delta, resent as sent
  EXPECT_EQ(host.counters["choco.deltas_resent"], 1);
  // A requester that already holds round 2 onwards gets round 1 only.
  node.OnMessage(host, PeerId(1), Delta(1, l.Constant(0.f)));
  ASSERT_EQ(node.completed_rounds(), 1);
  host.FinishCompute(node);
  const std::vector<uint8_t> delta2 = host.sent.back().bytes;
  ByteWriter partial;
  WriteCodedMessageHeader({.kind = CodedMessageKind::kChocoResyncRequest, .round = Round(2),
                           .weight = 2, .sequence = 0},
                          partial);
  before = host.sent.size();
  node.OnMessage(host, PeerId(1), partial.bytes());
  ASSERT_EQ(host.sent.size(), before + 1);
  EXPECT_EQ(host.sent.back().bytes, delta1);
  EXPECT_NE(delta1, delta2);
  // A requester that is up to date gets nothing.
  node.OnMessage(host, PeerId(1), Delta(2, l.Constant(0.f)));
  ASSERT_EQ(node.completed_rounds(), 2);
  before = host.sent.size();
  node.OnMessage(host, PeerId(1), Message(CodedMessageKind::kChocoResyncRequest, 2, {}, 2));
  EXPECT_EQ(host.sent.size(), before);
  // Four rounds later round 1's delta is gone: a snapshot of x_hat.
  for (uint32_t r = 3; r <= 6; ++r) {
    host.FinishCompute(node);
    node.OnMessage(host, PeerId(1), Delta(r, l.Constant(0.f)));
  }
  ASSERT_EQ(node.completed_rounds(), 6);
  before = host.sent.size();
  node.OnMessage(host, PeerId(1), Message(CodedMessageKind::kChocoResyncRequest, 6, {}, 0));
  ASSERT_EQ(host.sent.size(), before + 1);
  const std::vector<uint8_t>& snapshot = host.sent.back().bytes;
  EXPECT_EQ(KindOf(snapshot), CodedMessageKind::kChocoSnapshot);
  EXPECT_EQ(ReadCodedMessage(snapshot, CodedMessageKind::kChocoDelta)->header.round, Round(6));
  std::vector<float> expected(node.public_model().begin(), node.public_model().end());
  EXPECT_EQ(Payload(snapshot, l.Constant(0).size()), expected);
  EXPECT_EQ(host.counters["choco.snapshots_sent"], 1);
}

TEST(ChocoNode, RejectsNonNeighboursBadRoundsAndCorruptFrames) {
  FrozenLearner l;
  ChocoNode node(*l.learner, Options(2, 1.0), Fp32(), {PeerId(1)}, {0.5});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  node.OnMessage(host, PeerId(7), Delta(1, l.Constant(1.f)));    // not a neighbour
  node.OnMessage(host, PeerId(1), Delta(3, l.Constant(1.f)));    // beyond the last round
  node.OnMessage(host, PeerId(1), Delta(1, {1.f, 2.f}));         // wrong dimension
  node.OnMessage(host, PeerId(1), std::vector<uint8_t>{16, 1});  // truncated header
  node.OnMessage(host, PeerId(1), std::vector<uint8_t>{1, 0, 0, 0, 0});  // D-PSGD kind
  EXPECT_EQ(host.bad_peers.size(), 5u);
  EXPECT_EQ(node.completed_rounds(), 0);
  // Nothing reached the copy of the neighbour.
  for (float v : node.neighbour_public_model(0)) ASSERT_EQ(v, 0.f);
}

TEST(ChocoNode, TopKDeltasMoveThePublicCopiesByWhatWasDecoded) {
  FrozenLearner l;
  l.Fill(1.f);
  const size_t dim = l.Constant(0).size();
  for (size_t i = 0; i < dim; ++i) l.learner->params()[i] = static_cast<float>(i);
  std::shared_ptr<const Codec> topk = MakeCodec("topk:k=5").value();
  ChocoNode node(*l.learner, Options(1, 1.0), topk, {PeerId(1)}, {0.5});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  // Only the 5 largest coordinates (dim-5 .. dim-1) entered x_hat_0.
  for (size_t i = 0; i < dim; ++i) {
    ASSERT_EQ(node.public_model()[i], i + 5 >= dim ? static_cast<float>(i) : 0.f) << i;
  }
  Result<CodedMessage> m = ReadCodedMessage(host.sent[0].bytes, CodedMessageKind::kChocoDelta);
  ASSERT_TRUE(m.ok());
  std::vector<float> decoded(dim);
  ASSERT_TRUE(topk->Decode(m->payload, {.seed = 1, .sender = PeerId(0), .step = 1}, decoded).ok());
  EXPECT_EQ(decoded, std::vector<float>(node.public_model().begin(), node.public_model().end()));
  EXPECT_LT(host.sent[0].bytes.size(), dim * sizeof(float) / 2);
}

// A neighbour declared down is not waited for: the round mixes as soon as
// the others are current (no timeout), its term left out; once it sends a
// delta of a round not yet mixed, rounds wait for it again; a stale one
// (a restarted peer's) does not make them wait.
TEST(ChocoNode, ANeighbourDownIsNotWaitedForUntilItSendsAgain) {
  FrozenLearner l;
  l.Fill(2.f);
  ChocoNode node(*l.learner, Options(4, 1.0), Fp32(), {PeerId(1), PeerId(2)}, {0.25, 0.25});
  FakeHost host(PeerId(0));
  node.OnStart(host);
  host.FinishCompute(node);
  node.OnMessage(host, PeerId(1), Delta(1, l.Constant(6.f)));  // x_hat_1 = 6
  EXPECT_EQ(node.completed_rounds(), 0);                        // waits for peer 2
  node.OnPeerDown(host, PeerId(2));
  ASSERT_EQ(node.completed_rounds(), 1);
  EXPECT_EQ(host.models.at(1), l.Constant(3.f));  // 2 + 0.25 (6 - 2)
  EXPECT_EQ(host.counters["choco.neighbours_down"], 1);
  EXPECT_EQ(host.counters.count("choco.round_timeouts"), 0u);
  node.OnPeerDown(host, PeerId(5));  // not a neighbour: ignored
  EXPECT_EQ(host.counters["choco.neighbours_down"], 1);

  host.FinishCompute(node);  // round 2: peer 2 is back and sends
  node.OnMessage(host, PeerId(2), Delta(2, l.Constant(4.f)));
  EXPECT_EQ(node.completed_rounds(), 1);  // a gap (its round 1): it is waited for
  node.OnMessage(host, PeerId(1), Delta(2, l.Constant(0.f)));
  EXPECT_EQ(node.completed_rounds(), 1);
  node.OnTimer(host, host.timers.back());
  EXPECT_EQ(node.completed_rounds(), 2);

  node.OnPeerDown(host, PeerId(2));
  node.OnMessage(host, PeerId(2), Delta(2, l.Constant(4.f)));  // stale
  host.FinishCompute(node);  // round 3: still down, not waited for
  node.OnMessage(host, PeerId(1), Delta(3, l.Constant(0.f)));
  EXPECT_EQ(node.completed_rounds(), 3);
  EXPECT_EQ(host.counters["choco.neighbours_down"], 2);
  EXPECT_TRUE(host.bad_peers.empty());
}

}  // namespace
}  // namespace murmur::testing
