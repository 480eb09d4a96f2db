// Compressed gossip's per-edge CHOCO copies, driven message by message
// between two nodes through FakeHosts.
#include "murmur/protocol/choco_gossip.h"

#include <gtest/gtest.h>

#include <cstring>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/protocol/coded_message.h"

namespace murmur::testing {
namespace {

ChocoGossipOptions Options(double gamma, bool shared) {
  return {.rounds = 100, .local_steps = 1, .period = Duration::Seconds(1), .gamma = gamma,
          .seed = 7, .shared_initial_model = shared};
}

CodedMessageKind KindOf(const std::vector<uint8_t>& bytes) {
  return static_cast<CodedMessageKind>(bytes.at(0));
}

bool BitIdentical(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

std::vector<float> Values(std::span<const float> x) { return {x.begin(), x.end()}; }

// Peer 0 pushes to peer 1 (each other's only neighbour); the test carries
// the bytes.
struct Pair {
  Pair(const char* codec, double gamma, bool shared)
      : a_host(PeerId(0)),
        b_host(PeerId(1)),
        a(*la.learner, Options(gamma, shared), MakeCodec(codec).value(), {PeerId(1)}),
        b(*lb.learner, Options(gamma, shared), MakeCodec(codec).value(), {PeerId(0)}) {}

  void Start() {
    a.OnStart(a_host);
    b.OnStart(b_host);
  }
  // One wake-up of a: returns the message it sent.
  std::vector<uint8_t> PushFromA() {
    const size_t before = a_host.sent.size();
    a.OnTimer(a_host, TimerId(1));
    EXPECT_EQ(a_host.sent.size(), before + 1);
    return a_host.sent.back().bytes;
  }
  // Delivers to b and lets its training (lr 0) finish.
  void DeliverToB(const std::vector<uint8_t>& bytes) {
    b.OnMessage(b_host, PeerId(0), bytes);
    while (!b_host.compute.empty()) b_host.FinishCompute(b);
  }
  // Delivers what b sent since `from` to a, returning what a sent back.
  std::vector<std::vector<uint8_t>> DeliverToA(size_t from) {
    const size_t before = a_host.sent.size();
    for (size_t m = from; m < b_host.sent.size(); ++m) {
      a.OnMessage(a_host, PeerId(1), b_host.sent[m].bytes);
    }
    std::vector<std::vector<uint8_t>> out;
    for (size_t m = before; m < a_host.sent.size(); ++m) out.push_back(a_host.sent[m].bytes);
    return out;
  }
  bool InSync() const {
    return a.sent_sequence(0) == b.received_sequence(0) &&
           BitIdentical(a.sent_copy(0), b.received_copy(0));
  }
  // A varied model for a, so sparsifiers and quantizers have work to do.
  void SetA(float scale) {
    std::span<float> x = la.learner->params();
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = scale * static_cast<float>((i * 37) % 11) - 0.3f * static_cast<float>(i % 5);
    }
  }

  FrozenLearner la, lb;
  FakeHost a_host, b_host;
  ChocoGossipNode a, b;
};

TEST(ChocoGossipNode, SenderAndReceiverCopiesStayBitIdentical) {
  for (const char* codec : {"topk:0.2|int8", "sign", "randk:0.3,scaling=none|fp16", "int4|zstd"}) {
    Pair p(codec, 0.5, /*shared=*/true);
    p.Start();
    EXPECT_TRUE(p.InSync()) << codec;  // both at the shared initial model
    const std::vector<float> start = Values(p.la.learner->params());
    for (int push = 1; push <= 6; ++push) {
      p.SetA(0.1f * static_cast<float>(push));
      const std::vector<uint8_t> message = p.PushFromA();
      EXPECT_EQ(KindOf(message), CodedMessageKind::kGossipDelta) << codec;
      p.DeliverToB(message);
      EXPECT_TRUE(p.InSync()) << codec << " after push " << push;
      EXPECT_EQ(p.b.received_sequence(0), push);
    }
    // The copy has moved from the initial model toward x_a.
    double before = 0, after = 0;
    std::span<const float> x = p.la.learner->params();
    for (size_t i = 0; i < x.size(); ++i) {
      before += (start[i] - x[i]) * (start[i] - x[i]);
      after += (p.a.sent_copy(0)[i] - x[i]) * (p.a.sent_copy(0)[i] - x[i]);
    }
    EXPECT_LT(after, 0.5 * before) << codec;
    EXPECT_TRUE(p.b_host.bad_peers.empty()) << codec;
    EXPECT_GT(p.a_host.counters["bytes_stage_" + std::string(codec).substr(
                  0, std::string(codec).find_first_of(":|"))], 0) << codec;
  }
}

// Unsynced edges start with an fp32 snapshot; with the identity codec and
// gamma = 1/2 every merge is gossip learning's pairwise average.
TEST(ChocoGossipNode, IdentityCodecWithHalfGammaIsPlainGossipAveraging) {
  Pair p("fp32", 0.5, /*shared=*/false);
  p.la.Fill(3.f);
  p.lb.Fill(7.f);
  p.Start();
  std::vector<uint8_t> first = p.PushFromA();
  EXPECT_EQ(KindOf(first), CodedMessageKind::kGossipSnapshot);
  p.DeliverToB(first);
  EXPECT_EQ(Values(p.lb.learner->params()), p.lb.Constant(5.f));  // (7 + 3) / 2
  p.la.Fill(11.f);
  std::vector<uint8_t> second = p.PushFromA();
  EXPECT_EQ(KindOf(second), CodedMessageKind::kGossipDelta);
  p.DeliverToB(second);
  EXPECT_EQ(Values(p.b.received_copy(0)), p.lb.Constant(11.f));
  EXPECT_EQ(Values(p.lb.learner->params()), p.lb.Constant(8.f));  // (5 + 11) / 2
  EXPECT_TRUE(p.InSync());
}

TEST(ChocoGossipNode, GammaSetsTheMergeStep) {
  Pair p("fp32", 0.25, /*shared=*/false);
  p.la.Fill(4.f);
  p.lb.Fill(8.f);
  p.Start();
  p.DeliverToB(p.PushFromA());
  EXPECT_EQ(Values(p.lb.learner->params()), p.lb.Constant(7.f));  // 0.75 * 8 + 0.25 * 4
}

TEST(ChocoGossipNode, LostDeltaIsResentFromTheEdgeHistory) {
  Pair p("topk:0.2|int8", 0.5, /*shared=*/true);
  p.Start();
  p.SetA(0.1f);
  p.DeliverToB(p.PushFromA());
  p.SetA(0.2f);
  p.PushFromA();  // lost
  p.SetA(0.3f);
  const std::vector<float> before = Values(p.lb.learner->params());
  p.DeliverToB(p.PushFromA());  // a gap: dropped, no merge
  EXPECT_EQ(Values(p.lb.learner->params()), before);
  EXPECT_FALSE(p.InSync());
  ASSERT_EQ(p.b_host.sent.size(), 1u);
  EXPECT_EQ(KindOf(p.b_host.sent[0].bytes), CodedMessageKind::kGossipResyncRequest);
  EXPECT_EQ(p.b_host.sent[0].bytes.size(), kCodedMessageHeaderBytes);
  const auto answer = p.DeliverToA(0);
  ASSERT_EQ(answer.size(), 2u);  // sequences 2 and 3, byte for byte
  EXPECT_EQ(answer[0], p.a_host.sent[1].bytes);
  EXPECT_EQ(answer[1], p.a_host.sent[2].bytes);
  for (const auto& m : answer) p.DeliverToB(m);
  EXPECT_TRUE(p.InSync());
  EXPECT_EQ(p.b.received_sequence(0), 3);
  EXPECT_EQ(p.a_host.counters["gossip.messages_resent"], 2);
  // A second answer (a duplicate request) would be stale: ignored.
  for (const auto& m : answer) p.DeliverToB(m);
  EXPECT_TRUE(p.InSync());
  EXPECT_EQ(p.b_host.counters["gossip.stale_deltas"], 2);
}

TEST(ChocoGossipNode, LossBeyondTheHistoryIsRepairedBySnapshot) {
  Pair p("sign", 0.5, /*shared=*/true);
  p.Start();
  for (int push = 1; push <= 6; ++push) {  // 5 of them lost
    p.SetA(0.1f * static_cast<float>(push));
    std::vector<uint8_t> m = p.PushFromA();
    if (push == 1) p.DeliverToB(m);
  }
  p.SetA(0.9f);
  p.DeliverToB(p.PushFromA());
  ASSERT_EQ(p.b_host.sent.size(), 1u);
  const auto answer = p.DeliverToA(0);
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(KindOf(answer[0]), CodedMessageKind::kGossipSnapshot);
  p.DeliverToB(answer[0]);
  EXPECT_TRUE(p.InSync());
  EXPECT_EQ(p.b.received_sequence(0), 7);
  EXPECT_EQ(p.a_host.counters["gossip.snapshots_sent"], 1);
  // Later deltas apply on top of the snapshot.
  p.SetA(1.0f);
  p.DeliverToB(p.PushFromA());
  EXPECT_TRUE(p.InSync());
}

TEST(ChocoGossipNode, RejectsBadMessagesWithoutChangingState) {
  Pair p("topk:0.2", 0.5, /*shared=*/true);
  p.Start();
  p.SetA(0.5f);
  std::vector<uint8_t> good = p.PushFromA();
  const std::vector<float> copy = Values(p.b.received_copy(0));
  std::vector<uint8_t> truncated(good.begin(), good.end() - 3);
  p.b.OnMessage(p.b_host, PeerId(0), truncated);
  std::vector<uint8_t> zero_sequence = good;
  std::memset(zero_sequence.data() + 13, 0, 4);
  p.b.OnMessage(p.b_host, PeerId(0), zero_sequence);
  p.b.OnMessage(p.b_host, PeerId(5), good);  // not a neighbour
  std::vector<uint8_t> resync_with_payload = good;
  resync_with_payload[0] = static_cast<uint8_t>(CodedMessageKind::kGossipResyncRequest);
  p.b.OnMessage(p.b_host, PeerId(0), resync_with_payload);
  EXPECT_EQ(p.b_host.bad_peers.size(), 4u);
  EXPECT_EQ(Values(p.b.received_copy(0)), copy);
  EXPECT_EQ(p.b.received_sequence(0), 0);
  p.DeliverToB(good);
  EXPECT_TRUE(p.InSync());
}

}  // namespace
}  // namespace murmur::testing
