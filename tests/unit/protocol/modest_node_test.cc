// MoDeST's node driven message by message through a FakeHost: its frames
// and membership updates come from peers, so bad bytes must be rejected.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/core/bytes.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/modest.h"

namespace murmur::testing {
namespace {

struct Fixture : FrozenLearner {
  Fixture() {
    node = std::make_unique<ModestNode>(
        *learner, ModestOptions{.rounds = 5,
                                .local_steps = 1,
                                .num_peers = 6,
                                .trainers = 2,
                                .aggregators = 1,
                                .ping_timeout = Duration::Seconds(0.1),
                                .round_timeout = Duration::Seconds(1),
                                .seed = 1});
  }
  std::unique_ptr<ModestNode> node;
};

struct Update {
  uint32_t peer;
  uint32_t incarnation;
  uint8_t alive;
};

// The wire frame of modest.cc, built by hand.
// Kind bytes (message_kind.h) for the hand-built frames below.
constexpr uint8_t kPingByte = static_cast<uint8_t>(ModestMessageType::kPing);
constexpr uint8_t kTrainedByte = static_cast<uint8_t>(ModestMessageType::kTrained);
constexpr uint8_t kGlobalByte = static_cast<uint8_t>(ModestMessageType::kGlobal);
constexpr uint8_t kAckByte = static_cast<uint8_t>(ModestMessageType::kAck);

std::vector<uint8_t> Frame(uint8_t type, uint32_t round, uint8_t role,
                           const std::vector<Update>& updates, const std::vector<float>& params) {
  ByteWriter out;
  out.WriteU8(type);
  out.WriteU32(round);
  out.WriteU8(role);
  out.WriteU32(static_cast<uint32_t>(updates.size()));
  for (const Update& u : updates) {
    out.WriteU32(u.peer);
    out.WriteU32(u.incarnation);
    out.WriteU8(u.alive);
  }
  out.WriteFloats(params);
  return std::move(out).Take();
}

TEST(ModestMessage, EncoderWritesTheDocumentedLayoutAndDecoderReadsItBack) {
  const std::vector<float> model = {1.5f, -2.f};
  const std::vector<ModestMembershipUpdate> updates = {{.peer = 4, .incarnation = 2, .alive = false}};
  const std::vector<uint8_t> bytes =
      EncodeModestFrame(ModestMessageType::kTrained, 3, ModestRole::kAggregator, updates, model);
  EXPECT_EQ(bytes, Frame(kTrainedByte, 3, 1, {{4, 2, 0}}, model));
  EXPECT_EQ(bytes.size(), 1u + 4 + 1 + 4 + 9 + 4 + 8);
  Result<ModestFrame> back = DecodeModestFrame(bytes, 6, 2);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->type, ModestMessageType::kTrained);
  EXPECT_EQ(back->round, 3);
  EXPECT_EQ(back->role, ModestRole::kAggregator);
  EXPECT_EQ(back->params, model);
  EXPECT_EQ(back->updates.size(), kModestUpdateBytes);
  // The same bytes against a 4-peer view name an unknown peer.
  EXPECT_EQ(DecodeModestFrame(bytes, 4, 2).status().code(), StatusCode::kCorrupt);
}

TEST(ModestNode, AnswersPingsAndRejectsMalformedFrames) {
  Fixture f;
  FakeHost host(PeerId(0));
  const size_t dim = f.learner->params().size();
  f.node->OnMessage(host, PeerId(3), Frame(kPingByte, 2, 1, {}, {}));
  ASSERT_EQ(host.sent.size(), 1u);
  EXPECT_EQ(host.sent[0].to, PeerId(3));
  EXPECT_EQ(host.sent[0].bytes[0], static_cast<uint8_t>(ModestMessageType::kPong));
  EXPECT_TRUE(host.bad_peers.empty());

  const std::vector<std::vector<uint8_t>> bad = {
      {},
      {1, 2, 0},
      Frame(9, 1, 0, {}, {}),                              // unknown type
      Frame(kPingByte, 0, 0, {}, {}),                      // round 0
      Frame(kPingByte, 6, 0, {}, {}),                      // past the last round
      Frame(kPingByte, 1, 7, {}, {}),                      // unknown role
      Frame(kPingByte, 1, 0, {{9, 0, 0}}, {}),             // unknown peer in update
      Frame(kPingByte, 1, 0, {{1, 0, 3}}, {}),             // bad alive flag
      Frame(kGlobalByte, 1, 0, {}, std::vector<float>(dim - 1)),  // wrong model size
      Frame(kGlobalByte, 1, 0, {},
            std::vector<float>(dim, std::numeric_limits<float>::quiet_NaN())),
      Frame(kPingByte, 1, 0, {}, {1.0f}),                  // a ping with a model
  };
  for (const auto& bytes : bad) f.node->OnMessage(host, PeerId(2), bytes);
  EXPECT_EQ(host.bad_peers.size(), bad.size());
  // A truncated membership list.
  std::vector<uint8_t> truncated = Frame(kPingByte, 1, 0, {{1, 0, 1}, {2, 0, 1}}, {});
  truncated.resize(truncated.size() - 10);
  f.node->OnMessage(host, PeerId(2), truncated);
  EXPECT_EQ(host.bad_peers.size(), bad.size() + 1);
  f.node->OnMessage(host, PeerId(7), Frame(kPingByte, 1, 0, {}, {}));  // not a peer of the run
  EXPECT_EQ(host.bad_peers.size(), bad.size() + 2);
  EXPECT_EQ(host.sent.size(), 1u);
}

TEST(ModestNode, MembershipRumoursFollowIncarnationsAndSelfRefutes) {
  Fixture f;
  FakeHost host(PeerId(0));
  EXPECT_EQ(f.node->View().size(), 6u);
  // Peer 4 is reported dead at incarnation 0: it leaves the view.
  f.node->OnMessage(host, PeerId(1), Frame(kPingByte, 1, 0, {{4, 0, 0}}, {}));
  EXPECT_EQ(f.node->View().size(), 5u);
  // A stale "alive" at the same incarnation does not bring it back...
  f.node->OnMessage(host, PeerId(2), Frame(kPingByte, 1, 0, {{4, 0, 1}}, {}));
  EXPECT_EQ(f.node->View().size(), 5u);
  // ...a newer incarnation does.
  f.node->OnMessage(host, PeerId(2), Frame(kPingByte, 1, 0, {{4, 1, 1}}, {}));
  EXPECT_EQ(f.node->View().size(), 6u);
  // A rumour that this peer is dead is refuted in its next frame.
  host.sent.clear();
  f.node->OnMessage(host, PeerId(3), Frame(kPingByte, 1, 0, {{0, 2, 0}}, {}));
  ASSERT_EQ(host.sent.size(), 1u);
  const std::vector<uint8_t>& pong = host.sent[0].bytes;
  // Updates start at offset 10: find this peer's entry.
  uint32_t n;
  std::memcpy(&n, pong.data() + 6, 4);
  bool refuted = false;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t peer, incarnation;
    std::memcpy(&peer, pong.data() + 10 + 9 * i, 4);
    std::memcpy(&incarnation, pong.data() + 14 + 9 * i, 4);
    if (peer == 0) refuted = incarnation == 3 && pong[18 + 9 * i] == 1;
  }
  EXPECT_TRUE(refuted);
  EXPECT_TRUE(host.bad_peers.empty());
}

// (type, round, role) of a sent frame.
struct Head {
  ModestMessageType type;
  uint32_t round;
  uint8_t role;
  bool operator==(const Head&) const = default;
};
Head HeadOf(const std::vector<uint8_t>& bytes) {
  uint32_t round;
  std::memcpy(&round, bytes.data() + 1, 4);
  return {static_cast<ModestMessageType>(bytes[0]), round, bytes[5]};
}

// A peer ranked last for round 1 (so it does not train at the start).
PeerId LastOfRoundOne() {
  std::vector<PeerId> all;
  for (uint32_t i = 0; i < 6; ++i) all.push_back(PeerId(i));
  return ModestCandidates(1, 1, ModestRole::kTrainer, all).back();
}

// Stall restart: the timer set at the start fires 4 x round_timeout (4 s)
// after the peer last heard of a newer round; it restarts only when it holds
// no round, at the round after its newest model, pinging that round's
// trainers in rank order.
TEST(ModestNode, StallTimerRestartsAtTheRoundAfterItsNewestModelOnlyWhenIdle) {
  Fixture f;
  const PeerId self = LastOfRoundOne();
  const PeerId other(self.value == 0 ? 1 : 0);
  FakeHost host(self);
  const size_t dim = f.learner->params().size();
  f.node->OnStart(host);
  ASSERT_EQ(host.timers.size(), 1u);  // the stall timer
  TimerId stall = host.timers.back();
  EXPECT_TRUE(host.compute.empty());

  // At 1 s it is handed round 3's model, trains it and is acknowledged.
  host.Advance(Duration::Seconds(1));
  f.node->OnMessage(host, other, Frame(kGlobalByte, 3, 0, {}, std::vector<float>(dim, 0.5f)));
  host.FinishCompute(*f.node);
  f.node->OnMessage(host, other, Frame(kAckByte, 3, 0, {}, {}));

  // At 4 s it heard of round 3 only 3 s ago: the timer is set again for
  // the remaining second, nothing is sent.
  host.Advance(Duration::Seconds(3));
  host.sent.clear();
  const size_t timers = host.timers.size();
  f.node->OnTimer(host, stall);
  ASSERT_EQ(host.timers.size(), timers + 1);
  stall = host.timers.back();
  EXPECT_TRUE(host.sent.empty());
  EXPECT_EQ(host.counters.count("modest.stall_restarts"), 0u);

  // At 5 s: a restart at round 4, as an aggregator of round 3 would: pings
  // to the first s = 2 trainers of round 4 (a self delivery if it is one).
  host.Advance(Duration::Seconds(1));
  f.node->OnTimer(host, stall);
  EXPECT_EQ(host.counters["modest.stall_restarts"], 1);
  EXPECT_EQ(f.node->stall_restarts(), 1);
  const std::vector<PeerId> order = ModestCandidates(1, 4, ModestRole::kTrainer, f.node->View());
  std::vector<PeerId> expected;
  for (size_t i = 0; i < 2; ++i) {
    if (order[i] != self) expected.push_back(order[i]);
  }
  ASSERT_EQ(host.sent.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(host.sent[i].to, expected[i]);
    EXPECT_EQ(HeadOf(host.sent[i].bytes), (Head{ModestMessageType::kPing, 4, 0}));
  }

  // Holding round 4 now (waiting for its trainers' progress), the next stall
  // timeout (the timer set last) sends nothing and sets the timer again.
  stall = host.timers.back();
  host.Advance(Duration::Seconds(4));
  host.sent.clear();
  f.node->OnTimer(host, stall);
  EXPECT_TRUE(host.sent.empty());
  EXPECT_EQ(f.node->stall_restarts(), 1);
  EXPECT_TRUE(host.bad_peers.empty());
}

// A trainer past a handed round answers with progress at once (ending a
// restart from an older model); a duplicate of the round it is training
// gets its progress only when that round is aggregated, as before.
TEST(ModestNode, TrainerPastAHandedRoundAnswersWithProgress) {
  Fixture f;
  FakeHost host(PeerId(0));
  const size_t dim = f.learner->params().size();
  const std::vector<float> model(dim, 0.25f);
  f.node->OnMessage(host, PeerId(1), Frame(kGlobalByte, 3, 0, {}, model));
  host.FinishCompute(*f.node);
  f.node->OnMessage(host, PeerId(1), Frame(kAckByte, 3, 0, {}, {}));
  host.sent.clear();
  // Round 3 is trained and aggregated: a handing of round 2 or 3 gets
  // progress for round 3.
  f.node->OnMessage(host, PeerId(2), Frame(kGlobalByte, 2, 0, {}, model));
  f.node->OnMessage(host, PeerId(3), Frame(kGlobalByte, 3, 0, {}, model));
  ASSERT_EQ(host.sent.size(), 2u);
  EXPECT_EQ(host.sent[0].to, PeerId(2));
  EXPECT_EQ(HeadOf(host.sent[0].bytes), (Head{ModestMessageType::kProgress, 3, 0}));
  EXPECT_EQ(host.sent[1].to, PeerId(3));
  EXPECT_EQ(HeadOf(host.sent[1].bytes), (Head{ModestMessageType::kProgress, 3, 0}));
  EXPECT_TRUE(host.compute.empty());
  // Training round 5: a handing of round 2 gets progress for round 4; a
  // second copy of round 5 gets nothing yet.
  f.node->OnMessage(host, PeerId(1), Frame(kGlobalByte, 5, 0, {}, model));
  ASSERT_EQ(host.compute.size(), 1u);
  host.sent.clear();
  f.node->OnMessage(host, PeerId(2), Frame(kGlobalByte, 2, 0, {}, model));
  f.node->OnMessage(host, PeerId(4), Frame(kGlobalByte, 5, 0, {}, model));
  ASSERT_EQ(host.sent.size(), 1u);
  EXPECT_EQ(host.sent[0].to, PeerId(2));
  EXPECT_EQ(HeadOf(host.sent[0].bytes), (Head{ModestMessageType::kProgress, 4, 0}));
  EXPECT_EQ(host.compute.size(), 1u);
  EXPECT_TRUE(host.bad_peers.empty());
}

}  // namespace
}  // namespace murmur::testing
