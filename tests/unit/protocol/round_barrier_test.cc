#include "murmur/protocol/round_barrier.h"

#include <gtest/gtest.h>

#include "testing/fake_host.h"

namespace murmur {
namespace {

using testing::FakeHost;

const PeerId kA(1), kB(2), kC(3);

RoundBarrierOptions Options(int64_t window = 2, Duration timeout = {}) {
  return {.name = "t", .window = window, .timeout = timeout};
}

std::vector<float> Model(float v) { return {v, v + 1}; }

TEST(RoundBarrier, CompleteWhenEveryExpectedSenderArrived) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(), std::vector<PeerId>{kA, kB});
  barrier.Wait(host);
  EXPECT_FALSE(barrier.complete());
  EXPECT_EQ(barrier.Add(host, Round(1), kB, Model(2)), Arrival::kStored);
  EXPECT_FALSE(barrier.complete());
  EXPECT_EQ(barrier.Add(host, Round(1), kA, Model(1)), Arrival::kStored);
  EXPECT_TRUE(barrier.complete());
  const ArrivedModels got = barrier.Close();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.at(kA), Model(1));
  EXPECT_EQ(got.at(kB), Model(2));
  EXPECT_EQ(barrier.open_round(), Round(2));
  EXPECT_FALSE(barrier.waiting());
  EXPECT_EQ(barrier.buffered_models(), 0u);
  EXPECT_TRUE(host.counters.empty());
}

TEST(RoundBarrier, NoExpectedSendersIsCompleteAtOnce) {
  RoundBarrier barrier(Options(), std::vector<PeerId>{});
  EXPECT_TRUE(barrier.complete());
  EXPECT_TRUE(barrier.Close().empty());
}

TEST(RoundBarrier, DuplicateCountedAndIgnored) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(), std::vector<PeerId>{kA, kB});
  EXPECT_EQ(barrier.Add(host, Round(1), kA, Model(1)), Arrival::kStored);
  EXPECT_EQ(barrier.Add(host, Round(1), kA, Model(9)), Arrival::kDuplicate);
  EXPECT_FALSE(barrier.complete());
  EXPECT_EQ(host.counters.at("t.duplicate_models"), 1);
  EXPECT_EQ(barrier.Close().at(kA), Model(1));  // the first one stands
}

TEST(RoundBarrier, LateModelCountedAndIgnored) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(), std::vector<PeerId>{kA});
  barrier.Close();
  barrier.Close();  // rounds 1 and 2 are over
  EXPECT_EQ(barrier.Add(host, Round(2), kA, Model(1)), Arrival::kLate);
  EXPECT_EQ(barrier.Add(host, Round(0), kA, Model(1)), Arrival::kLate);
  EXPECT_EQ(host.counters.at("t.late_models"), 2);
  EXPECT_EQ(barrier.buffered_models(), 0u);
}

TEST(RoundBarrier, FutureRoundWithinWindowBufferedBeyondKeptOnlyAsNewest) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(/*window=*/2), std::vector<PeerId>{kA});
  EXPECT_EQ(barrier.Add(host, Round(3), kA, Model(3)), Arrival::kStored);
  EXPECT_EQ(barrier.Add(host, Round(5), kA, Model(5)), Arrival::kBeyondWindow);
  EXPECT_EQ(barrier.Add(host, Round(4), kA, Model(4)), Arrival::kBeyondWindow);  // older: dropped
  EXPECT_EQ(host.counters.at("t.beyond_window_models"), 2);
  EXPECT_EQ(barrier.buffered_models(), 2u);  // round 3, and round 5 kept ahead
  EXPECT_TRUE(barrier.Close().empty());      // round 1: nothing arrived
  EXPECT_TRUE(barrier.Close().empty());      // round 2; round 5 is now inside the window
  EXPECT_TRUE(barrier.complete());           // round 3, buffered earlier
  EXPECT_EQ(barrier.Close().at(kA), Model(3));
  EXPECT_FALSE(barrier.complete());  // round 4's model was dropped
  EXPECT_TRUE(barrier.Close().empty());
  EXPECT_EQ(barrier.Close().at(kA), Model(5));  // filed when the window reached it
  EXPECT_EQ(barrier.buffered_rounds(), 0u);
}

TEST(RoundBarrier, DownSenderIsNotWaitedForUntilItSendsAgain) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(/*window=*/2), std::vector<PeerId>{kA, kB});
  barrier.Add(host, Round(1), kA, Model(1));
  EXPECT_FALSE(barrier.complete());
  barrier.MarkDown(kB);
  EXPECT_TRUE(barrier.complete());
  EXPECT_EQ(barrier.Close().size(), 1u);
  // B comes back with a model for the open round: waited for again.
  EXPECT_EQ(barrier.Add(host, Round(2), kB, Model(2)), Arrival::kStored);
  EXPECT_FALSE(barrier.is_down(kB));
  EXPECT_FALSE(barrier.complete());
  barrier.Add(host, Round(2), kA, Model(2));
  EXPECT_TRUE(barrier.complete());
}

// A sender declared up again (MarkUp) is waited for at once, before it
// sent anything, but not for a round it has already moved past (a model
// of a later round of it is held: it came back and jumped); a sender that
// never went down and is one round ahead is waited for, as in lock step.
TEST(RoundBarrier, ASenderUpAgainIsWaitedForButNotForARoundItSkipped) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(/*window=*/3), std::vector<PeerId>{kA, kB});
  barrier.MarkDown(kB);
  barrier.Add(host, Round(1), kA, Model(1));
  EXPECT_TRUE(barrier.complete());
  barrier.Close();
  barrier.MarkUp(kB);
  EXPECT_FALSE(barrier.is_down(kB));
  barrier.Add(host, Round(2), kA, Model(2));
  EXPECT_FALSE(barrier.complete());  // waits for B again
  barrier.Add(host, Round(3), kB, Model(3));
  EXPECT_TRUE(barrier.complete());  // B is past round 2: it will not send it
  EXPECT_EQ(barrier.Close().size(), 1u);
  // Round 3: B's model is in; A (never down) one round ahead is waited for.
  barrier.Add(host, Round(4), kA, Model(4));
  EXPECT_FALSE(barrier.complete());
  barrier.Add(host, Round(3), kA, Model(3));
  EXPECT_TRUE(barrier.complete());
  EXPECT_EQ(barrier.Close().size(), 2u);
}

TEST(RoundBarrier, SkippingSendersAheadDoesNotWaitForOneTwoRoundsAhead) {
  FakeHost host(PeerId(0));
  RoundBarrierOptions options = Options(/*window=*/3);
  options.skip_senders_ahead = true;
  RoundBarrier barrier(options, std::vector<PeerId>{kA, kB});
  barrier.Wait(host);
  barrier.Add(host, Round(1), kA, Model(1));
  // B one round ahead is lock step: still waited for.
  barrier.Add(host, Round(2), kB, Model(2));
  EXPECT_FALSE(barrier.complete());
  // B two ahead (within the window) never sends round 1: not waited for.
  barrier.Add(host, Round(3), kB, Model(3));
  EXPECT_TRUE(barrier.complete());
  ArrivedModels got = barrier.Close();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.at(kA), Model(1));
  // Round 2: B's model is in; A's is waited for.
  EXPECT_FALSE(barrier.complete());
  barrier.Add(host, Round(2), kA, Model(2));
  EXPECT_TRUE(barrier.complete());
  EXPECT_EQ(barrier.Close().size(), 2u);
  // Round 3: B's model is in, A one ahead at most: waited for.
  EXPECT_FALSE(barrier.complete());
  // Far ahead (beyond the window, kept as its newest) counts too.
  barrier.Add(host, Round(20), kA, Model(20));
  EXPECT_TRUE(barrier.complete());
  // Without the option a sender ahead is waited for, as before.
  RoundBarrier waiting(Options(/*window=*/3), std::vector<PeerId>{kA, kB});
  waiting.Add(host, Round(1), kA, Model(1));
  waiting.Add(host, Round(3), kB, Model(3));
  waiting.Add(host, Round(20), kB, Model(20));
  EXPECT_FALSE(waiting.complete());
}

TEST(RoundBarrier, CatchUpNeedsEverySenderThatIsUpTwoRoundsAhead) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(/*window=*/3), std::vector<PeerId>{kA, kB});
  // One round ahead is normal lock step.
  barrier.Add(host, Round(2), kA, Model(2));
  barrier.Add(host, Round(2), kB, Model(2));
  EXPECT_FALSE(barrier.CatchUpRound().has_value());
  // A alone at round 9 (beyond the window) is not enough while B is up.
  barrier.Add(host, Round(9), kA, Model(9));
  EXPECT_FALSE(barrier.CatchUpRound().has_value());
  // B is at 8: the jump goes to the least advanced sender's round.
  barrier.Add(host, Round(8), kB, Model(80));
  ASSERT_EQ(barrier.CatchUpRound(), Round(8));
  const auto models = barrier.JumpTo(Round(8));
  EXPECT_EQ(barrier.open_round(), Round(8));
  ASSERT_EQ(models.size(), 2u);  // each sender's newest
  EXPECT_EQ(models.at(kA), Model(9));
  EXPECT_EQ(models.at(kB), Model(80));
  // A closed round 8 without this peer and will not send it: round 8 waits
  // only for B, whose model is in.
  EXPECT_TRUE(barrier.complete());
  EXPECT_EQ(barrier.Close().size(), 1u);
  // Round 9: A's model was filed for it; B is waited for again.
  EXPECT_FALSE(barrier.complete());
  barrier.Add(host, Round(9), kB, Model(90));
  EXPECT_TRUE(barrier.complete());
  EXPECT_EQ(barrier.Close().at(kA), Model(9));
}

TEST(RoundBarrier, CatchUpSkipsDownSenders) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(/*window=*/16), std::vector<PeerId>{kA, kB});
  barrier.Add(host, Round(5), kA, Model(5));
  EXPECT_FALSE(barrier.CatchUpRound().has_value());
  barrier.MarkDown(kB);
  EXPECT_EQ(barrier.CatchUpRound(), Round(5));
}

TEST(RoundBarrier, StrangerDropped) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(), std::vector<PeerId>{kA});
  EXPECT_EQ(barrier.Add(host, Round(1), kC, Model(1)), Arrival::kStranger);
  EXPECT_EQ(host.counters.at("t.stranger_models"), 1);
  EXPECT_FALSE(barrier.complete());
  EXPECT_EQ(barrier.buffered_models(), 0u);
}

TEST(RoundBarrier, ExpectedSendersPerRoundAskedOncePerRound) {
  FakeHost host(PeerId(0));
  int calls = 0;
  RoundBarrier barrier(Options(), [&](Round round) {
    ++calls;
    return round.value % 2 == 1 ? std::vector<PeerId>{kA} : std::vector<PeerId>{kB, kC};
  });
  EXPECT_EQ(barrier.Add(host, Round(1), kB, Model(1)), Arrival::kStranger);
  EXPECT_EQ(barrier.Add(host, Round(1), kA, Model(1)), Arrival::kStored);
  EXPECT_EQ(barrier.Add(host, Round(2), kB, Model(2)), Arrival::kStored);
  EXPECT_TRUE(barrier.complete());
  barrier.Close();
  EXPECT_FALSE(barrier.complete());  // round 2 still waits for kC
  EXPECT_EQ(barrier.Add(host, Round(2), kC, Model(3)), Arrival::kStored);
  EXPECT_TRUE(barrier.complete());
  EXPECT_EQ(calls, 2);
}

TEST(RoundBarrier, TimeoutFiresCompletionWithWhatArrived) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(2, Duration::Seconds(1)), std::vector<PeerId>{kA, kB});
  EXPECT_FALSE(barrier.TimedOut(host, TimerId(1)));  // not waiting yet
  barrier.Wait(host);
  ASSERT_EQ(host.timers.size(), 1u);
  EXPECT_EQ(barrier.Add(host, Round(1), kA, Model(1)), Arrival::kStored);
  EXPECT_FALSE(barrier.TimedOut(host, TimerId(99)));  // another timer
  EXPECT_TRUE(barrier.TimedOut(host, host.timers[0]));
  EXPECT_EQ(host.counters.at("t.round_timeouts"), 1);
  const ArrivedModels got = barrier.Close();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.at(kA), Model(1));
  // The old round's timer is stale once the next round waits.
  barrier.Wait(host);
  EXPECT_FALSE(barrier.TimedOut(host, host.timers[0]));
  EXPECT_TRUE(barrier.TimedOut(host, host.timers[1]));
}

TEST(RoundBarrier, NoTimeoutStartsNoTimer) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(), std::vector<PeerId>{kA});
  barrier.Wait(host);
  EXPECT_TRUE(host.timers.empty());
  EXPECT_FALSE(barrier.TimedOut(host, TimerId()));
}

TEST(RoundBarrier, MemoryBoundedUnderFlood) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier(Options(/*window=*/3), std::vector<PeerId>{kA, kB});
  // An insider floods every future round, twice each.
  for (uint32_t r = 1; r <= 10'000; ++r) {
    barrier.Add(host, Round(r), kA, Model(static_cast<float>(r)));
    barrier.Add(host, Round(r), kA, Model(0));
  }
  // Rounds 1..4 (the open one and 3 ahead) hold one model each, and A's
  // newest beyond the window is kept for catching up.
  EXPECT_EQ(barrier.buffered_models(), 5u);
  EXPECT_EQ(barrier.buffered_rounds(), 4u);
  EXPECT_EQ(host.counters.at("t.duplicate_models"), 4);
  EXPECT_EQ(host.counters.at("t.beyond_window_models"), 2 * (10'000 - 4));
}

TEST(RoundBarrier, EmptyNameCountsNothing) {
  FakeHost host(PeerId(0));
  RoundBarrier barrier({.window = 0, .timeout = Duration::Seconds(1)}, std::vector<PeerId>{kA});
  barrier.Wait(host);
  barrier.Add(host, Round(2), kA, Model(1));
  barrier.Add(host, Round(1), kC, Model(1));
  EXPECT_TRUE(barrier.TimedOut(host, host.timers[0]));
  EXPECT_TRUE(host.counters.empty());
}

}  // namespace
}  // namespace murmur
