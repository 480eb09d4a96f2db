// Snapshots of a MoDeST node (modest_snapshot.cc) and of RoundBarrier
// (round_barrier_snapshot.cc): a node restored from its own bytes saves the
// same bytes and acts as the original would; bytes that do not fit are
// refused with kCorrupt.
#include <gtest/gtest.h>

#include <memory>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/core/snapshot.h"
#include "murmur/protocol/modest.h"
#include "murmur/protocol/round_barrier.h"

namespace murmur::testing {
namespace {

ModestOptions Options(int64_t num_peers) {
  return ModestOptions{.rounds = 5,
                       .local_steps = 1,
                       .num_peers = num_peers,
                       .trainers = 2,
                       .aggregators = 2,
                       .ping_timeout = Duration::Seconds(0.1),
                       .round_timeout = Duration::Seconds(1),
                       .seed = 1};
}

std::vector<uint8_t> SaveOf(const Node& node) {
  SnapshotWriter out;
  node.Save(out);
  return out.Take();
}

// Peer 0 of 6, handed round 3's model by peer 1, trained it and pinging the
// aggregators of round 3; as an aggregator of round 2 it holds one trained
// model of peer 2's. Timers pending: stall, ack wait, ping, close.
struct Busy : FrozenLearner {
  Busy() : host(PeerId(0)), node(*learner, Options(6)) {
    node.OnStart(host);
    const size_t dim = learner->params().size();
    host.Advance(Duration::Seconds(1));
    node.OnMessage(host, PeerId(1),
                   EncodeModestFrame(ModestMessageType::kGlobal, 3, ModestRole::kTrainer, {},
                                     std::vector<float>(dim, 0.5f)));
    host.FinishCompute(node);
    node.OnMessage(host, PeerId(2),
                   EncodeModestFrame(ModestMessageType::kTrained, 2, ModestRole::kTrainer, {},
                                     std::vector<float>(dim, 0.25f)));
  }
  FakeHost host;
  ModestNode node;
};

TEST(ModestSnapshot, RestoredNodeSavesTheSameBytesAndActsTheSame) {
  Busy busy;
  ASSERT_TRUE(busy.node.CanSnapshot());
  const std::vector<uint8_t> bytes = SaveOf(busy.node);
  ModestNode restored(*busy.learner, Options(6));
  SnapshotReader in(bytes);
  ASSERT_TRUE(restored.Restore(in).ok()) << in.status().ToString();
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(SaveOf(restored), bytes);
  EXPECT_EQ(restored.trained_rounds(), std::vector<int64_t>{3});
  EXPECT_EQ(restored.View(), busy.node.View());

  // Every pending timer (the ids live in the snapshot) does the same on
  // both: the same frames to the same peers, the same state after.
  const std::vector<TimerId> timers = busy.host.timers;
  ASSERT_GE(timers.size(), 4u);
  busy.host.Advance(Duration::Seconds(5));
  size_t frames = 0;
  for (TimerId timer : timers) {
    busy.host.sent.clear();
    busy.node.OnTimer(busy.host, timer);
    const std::vector<FakeHost::Sent> original = busy.host.sent;
    frames += original.size();
    busy.host.sent.clear();
    restored.OnTimer(busy.host, timer);
    ASSERT_EQ(busy.host.sent.size(), original.size()) << "timer " << timer.value;
    for (size_t i = 0; i < original.size(); ++i) {
      EXPECT_EQ(busy.host.sent[i].to, original[i].to);
      EXPECT_EQ(busy.host.sent[i].bytes, original[i].bytes);
    }
  }
  EXPECT_GE(frames, 4u);  // pings, a resend, an ack, the round-3 model's pings
  EXPECT_EQ(SaveOf(restored).size(), SaveOf(busy.node).size());
  EXPECT_EQ(restored.aggregated_rounds(), busy.node.aggregated_rounds());
  EXPECT_EQ(restored.aggregated_rounds(), std::vector<int64_t>{2});  // closed by its timer
}

TEST(ModestSnapshot, RefusesAnotherRunsOrTruncatedBytes) {
  Busy busy;
  const std::vector<uint8_t> bytes = SaveOf(busy.node);
  {
    ModestNode other(*busy.learner, Options(7));  // 7 peers, the snapshot 6
    SnapshotReader in(bytes);
    EXPECT_EQ(other.Restore(in).code(), StatusCode::kCorrupt);
  }
  for (size_t cut : {size_t{1}, bytes.size() / 2, bytes.size() - 1}) {
    ModestNode fresh(*busy.learner, Options(6));
    SnapshotReader in(std::span<const uint8_t>(bytes).first(cut));
    EXPECT_EQ(fresh.Restore(in).code(), StatusCode::kCorrupt) << cut;
  }
}

// RoundBarrier::Save's layout: open round u32, waiting u8, timer u64, then
// the buffered rounds (count u64; round u32, expected senders (count u64,
// u32 ids), arrived (count u64; sender u32, model (count u64, floats))).
TEST(RoundBarrierSnapshot, RefusesAStrangerOrARoundOutsideTheWindow) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier({.window = 2}, std::vector<PeerId>{PeerId(1), PeerId(2)});
  ASSERT_EQ(barrier.Add(host, Round(1), PeerId(2), std::vector<float>{1, 2}), Arrival::kStored);
  SnapshotWriter out;
  barrier.Save(out);
  const std::vector<uint8_t> good = out.Take();
  constexpr size_t kRoundAt = 4 + 1 + 8 + 8;
  constexpr size_t kSenderAt = kRoundAt + 4 + 8 + 2 * 4 + 8;
  ASSERT_EQ(good[kRoundAt], 1);
  ASSERT_EQ(good[kSenderAt], 2);
  const auto restore = [](std::vector<uint8_t> bytes) {
    RoundBarrier fresh({.window = 2}, std::vector<PeerId>{PeerId(1), PeerId(2)});
    SnapshotReader in(bytes);
    fresh.Restore(in, 2);
    return in.status().code();
  };
  EXPECT_EQ(restore(good), StatusCode::kOk);
  std::vector<uint8_t> stranger = good;
  stranger[kSenderAt] = 3;  // not among the round's expected senders
  EXPECT_EQ(restore(stranger), StatusCode::kCorrupt);
  std::vector<uint8_t> beyond = good;
  beyond[kRoundAt] = 4;  // open round 1, window 2: rounds 1..3 are buffered
  EXPECT_EQ(restore(beyond), StatusCode::kCorrupt);
  beyond[kRoundAt] = 3;
  EXPECT_EQ(restore(beyond), StatusCode::kOk);
}

}  // namespace
}  // namespace murmur::testing
