// Snapshots of a MoDeST node (modest_snapshot.cc), of RoundBarrier
// (round_barrier_snapshot.cc) and of an Epidemic Learning node over it: a
// node restored from its own bytes saves the same bytes and, on a twin of
// the host as it was at the snapshot, acts as the original does from then
// on (same frames, same state after, byte for byte); bytes that do not fit
// the node, or are of another peer, are refused with kCorrupt.
#include <gtest/gtest.h>

#include <memory>

#include "testing/fake_host.h"
#include "testing/frozen_learner.h"
#include "murmur/core/snapshot.h"
#include "murmur/protocol/epidemic.h"
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

// The sent frames, in order, as (receiver, bytes).
std::vector<std::pair<uint32_t, std::vector<uint8_t>>> Frames(const FakeHost& host) {
  std::vector<std::pair<uint32_t, std::vector<uint8_t>>> out;
  for (const FakeHost::Sent& s : host.sent) out.emplace_back(s.to.value, s.bytes);
  return out;
}

// A resumed run in miniature: the node and its learner are saved, restored
// into fresh ones, and both copies go on from the same moment on twins of
// the host (a copy taken at the snapshot: clock, random stream, next timer
// id). Every pending timer then fires on both.
TEST(ModestSnapshot, RestoredNodeSavesTheSameBytesAndActsTheSame) {
  Busy busy;
  ASSERT_TRUE(busy.node.CanSnapshot());
  ASSERT_TRUE(busy.host.compute.empty());
  const std::vector<uint8_t> bytes = SaveOf(busy.node);
  SnapshotWriter learner_out;
  busy.learner->Save(learner_out);
  FrozenLearner twin;
  SnapshotReader learner_in(learner_out.bytes());
  ASSERT_TRUE(twin.learner->Restore(learner_in).ok());
  ModestNode restored(*twin.learner, Options(6));
  SnapshotReader in(bytes);
  ASSERT_TRUE(restored.Restore(in).ok()) << in.status().ToString();
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(SaveOf(restored), bytes);
  EXPECT_EQ(restored.trained_rounds(), std::vector<int64_t>{3});
  EXPECT_EQ(restored.View(), busy.node.View());

  FakeHost twin_host = busy.host;
  const std::vector<TimerId> timers = busy.host.timers;
  ASSERT_GE(timers.size(), 4u);
  busy.host.Advance(Duration::Seconds(5));
  twin_host.Advance(Duration::Seconds(5));
  size_t frames = 0;
  for (TimerId timer : timers) {
    busy.host.sent.clear();
    twin_host.sent.clear();
    busy.node.OnTimer(busy.host, timer);
    restored.OnTimer(twin_host, timer);
    frames += busy.host.sent.size();
    EXPECT_EQ(Frames(twin_host), Frames(busy.host)) << "timer " << timer.value;
    // Byte for byte the same state after every event, not only the same
    // size: timer ids, selections, sums and the membership view.
    EXPECT_EQ(SaveOf(restored), SaveOf(busy.node)) << "after timer " << timer.value;
  }
  EXPECT_GE(frames, 4u);  // pings, a resend, an ack, the round-3 model's pings
  EXPECT_EQ(restored.aggregated_rounds(), busy.node.aggregated_rounds());
  EXPECT_EQ(restored.aggregated_rounds(), std::vector<int64_t>{2});  // closed by its timer
  EXPECT_EQ(twin_host.timers, busy.host.timers);
  EXPECT_EQ(twin_host.counters, busy.host.counters);
  EXPECT_EQ(twin_host.models, busy.host.models);
  EXPECT_EQ(twin.Params(), busy.Params());
  EXPECT_EQ(twin_host.rng().position(), busy.host.rng().position());
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

// A snapshot of a barrier restored into one whose node expects other
// senders (another peer, another topology) is refused naming both lists;
// into the same node it restores and saves the same bytes.
TEST(RoundBarrierSnapshot, RefusesTheSnapshotOfAPeerWithOtherSenders) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier({.window = 2}, std::vector<PeerId>{PeerId(1), PeerId(2)});
  ASSERT_EQ(barrier.Add(host, Round(2), PeerId(1), std::vector<float>{1, 2}), Arrival::kStored);
  SnapshotWriter out;
  barrier.Save(out);
  const std::vector<uint8_t> bytes = out.Take();
  {
    RoundBarrier same({.window = 2}, std::vector<PeerId>{PeerId(1), PeerId(2)});
    SnapshotReader in(bytes);
    same.Restore(in, 2);
    ASSERT_TRUE(in.ok()) << in.status().ToString();
    SnapshotWriter again;
    same.Save(again);
    EXPECT_EQ(again.bytes(), bytes);
  }
  RoundBarrier other({.window = 2}, std::vector<PeerId>{PeerId(1), PeerId(3)});
  SnapshotReader in(bytes);
  other.Restore(in, 2);
  EXPECT_EQ(in.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(in.status().message().find("round 2 expects 2 senders (1, 2) but this node expects "
                                       "2 (1, 3)"),
            std::string::npos)
      << in.status().ToString();
}

// A model kept ahead (beyond the window) from a peer the node does not
// expect in that round is refused too.
TEST(RoundBarrierSnapshot, RefusesAModelKeptAheadFromAnUnexpectedSender) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier({.window = 1}, std::vector<PeerId>{PeerId(1), PeerId(2)});
  ASSERT_EQ(barrier.Add(host, Round(5), PeerId(2), std::vector<float>{1, 2}),
            Arrival::kBeyondWindow);
  SnapshotWriter out;
  barrier.Save(out);
  RoundBarrier other({.window = 1}, std::vector<PeerId>{PeerId(1), PeerId(3)});
  SnapshotReader in(out.bytes());
  other.Restore(in, 2);
  EXPECT_EQ(in.status().code(), StatusCode::kCorrupt) << in.status().ToString();
}

// The expected senders are asked only about rounds inside the restored
// window, after the window is checked: a node whose senders are defined
// only for some rounds (Epidemic Learning's draws) is never asked about
// one a corrupt snapshot names.
TEST(RoundBarrierSnapshot, AsksForSendersOnlyOfRoundsInsideTheCheckedWindow) {
  FakeHost host(PeerId(0));
  std::vector<uint32_t> asked;
  const auto senders = [&asked](Round r) {
    asked.push_back(r.value);
    return std::vector<PeerId>{PeerId(1), PeerId(2)};
  };
  RoundBarrier barrier({.window = 2}, senders);
  ASSERT_EQ(barrier.Add(host, Round(1), PeerId(2), std::vector<float>{1, 2}), Arrival::kStored);
  SnapshotWriter out;
  barrier.Save(out);
  std::vector<uint8_t> bytes = out.Take();
  constexpr size_t kRoundAt = 4 + 1 + 8 + 8;
  ASSERT_EQ(bytes[kRoundAt], 1);
  bytes[kRoundAt + 3] = 0x40;  // round 2^30 + 1, far outside [1, 3]
  asked.clear();
  RoundBarrier fresh({.window = 2}, senders);
  SnapshotReader in(bytes);
  fresh.Restore(in, 2);
  EXPECT_EQ(in.status().code(), StatusCode::kCorrupt);
  EXPECT_TRUE(asked.empty()) << asked.front();
}

EpidemicOptions EpidemicOpts() {
  return EpidemicOptions{.rounds = 5, .local_steps = 1, .fanout = 3, .num_peers = 5,
                         .round_timeout = Duration::Seconds(1), .seed = 1};
}

// Peer 1 of Epidemic Learning, waiting in round 1 with one drawn sender's
// model filed.
struct EpidemicWaiting : FrozenLearner {
  EpidemicWaiting() : host(PeerId(1)), node(*learner, EpidemicOpts()) {
    node.OnStart(host);
    host.FinishCompute(node);
    for (uint32_t j = 0; j < 5; ++j) {
      const std::vector<PeerId> targets = EpidemicTargets(1, PeerId(j), 1, 3, 5);
      if (j == 1 || !std::binary_search(targets.begin(), targets.end(), PeerId(1))) continue;
      sender = PeerId(j);
      break;
    }
    node.OnMessage(host, sender,
                   EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0,
                                      std::vector<float>(learner->params().size(), 0.5f)));
  }
  FakeHost host;
  EpidemicNode node;
  PeerId sender{1};  // none found: the test fails on it
};

// Epidemic's senders are drawn per round and defined only for the run's
// rounds; a snapshot of its node restores (same bytes), and one whose
// barrier names a round far past the run is refused, not a failed CHECK
// in the draw.
TEST(EpidemicSnapshot, RestoresItsOwnBytesAndRefusesARoundPastTheRun) {
  EpidemicWaiting waiting;
  ASSERT_NE(waiting.sender, PeerId(1));
  ASSERT_EQ(waiting.host.counters.count("epidemic.stranger_models"), 0u);
  const std::vector<uint8_t> bytes = SaveOf(waiting.node);
  {
    EpidemicNode restored(*waiting.learner, EpidemicOpts());
    SnapshotReader in(bytes);
    ASSERT_TRUE(restored.Restore(in).ok()) << in.status().ToString();
    EXPECT_EQ(SaveOf(restored), bytes);
  }
  // phase u8, round u32, self u32, last loss f64, then the barrier: open
  // round u32, waiting u8, timer u64, round count u64, the first round u32.
  constexpr size_t kOpenAt = 1 + 4 + 4 + 8;
  constexpr size_t kRoundAt = kOpenAt + 4 + 1 + 8 + 8;
  ASSERT_EQ(bytes[kOpenAt], 1);
  ASSERT_EQ(bytes[kRoundAt], 1);
  std::vector<uint8_t> far = bytes;
  far[kOpenAt + 3] = 0x40;  // open round 2^30 + 1 and its inbox: a consistent barrier
  far[kRoundAt + 3] = 0x40;
  EpidemicNode fresh(*waiting.learner, EpidemicOpts());
  SnapshotReader in(far);
  const Status status = fresh.Restore(in);
  EXPECT_EQ(status.code(), StatusCode::kCorrupt) << status.ToString();
  // Restored into the node of another peer (other drawn senders): refused.
  EpidemicNode other(*waiting.learner, EpidemicOpts());
  std::vector<uint8_t> moved = bytes;
  moved[1 + 4] = static_cast<uint8_t>(waiting.sender.value);  // self
  SnapshotReader in_other(moved);
  EXPECT_EQ(other.Restore(in_other).code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur::testing
