// Fault semantics of the collective layer over GroupNet: a peer crashed
// before every single delivery of an all-reduce; survivors agree on the
// outcome (all complete with the full sum, or all get kPeerLost with their
// input restored), and the retry over the survivors gives their exact sum.
// Joins between operations and restarts are admitted at the next agreement.
#include <gtest/gtest.h>

#include "group_net.h"
#include "murmur/collective/retry.h"

namespace murmur::collective {
namespace {

using test::GroupNet;
using test::Input;
using test::Options;
using test::Outcome;
using test::Record;
using test::SumOf;

// Number of deliveries a clean all-reduce of `n` peers takes.
uint64_t CleanDeliveries(int n, size_t len) {
  GroupNet net(n, Options(), 99);
  std::vector<std::vector<float>> bufs;
  std::vector<Outcome> outs(n);
  for (int i = 0; i < n; ++i) bufs.push_back(Input(i, len));
  for (int i = 0; i < n; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum, Record(outs[i]));
  }
  net.Drain();
  return net.delivered();
}

struct CrashResult {
  bool aborted = false;
};

// Crashes `victim` before delivery `index`, checks the invariants, retries.
CrashResult CrashAndRetry(int n, size_t len, PeerId victim, uint64_t index, bool notify_down) {
  GroupNet net(n, Options(), index * 31 + victim.value);
  std::vector<std::vector<float>> bufs;
  std::vector<Outcome> outs(n);
  for (int i = 0; i < n; ++i) bufs.push_back(Input(i, len));
  net.CrashBefore(victim, index, notify_down);
  for (int i = 0; i < n; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum, Record(outs[i]));
  }
  const std::string where = "victim " + std::to_string(victim.value) + " before delivery " +
                            std::to_string(index) + (notify_down ? " (peer-down)" : " (timeout)");
  std::vector<PeerId> everyone;
  for (int i = 0; i < n; ++i) everyone.push_back(PeerId(i));
  auto all_called = [&] {
    if (net.Alive().size() == size_t(n)) return false;  // the crash is still to come
    for (PeerId p : net.Alive()) if (!outs[p.value].called) return false;
    return true;
  };
  EXPECT_TRUE(net.Run(all_called, 10)) << where;
  const std::vector<PeerId> survivors = net.Alive();
  EXPECT_EQ(survivors.size(), size_t(n - 1)) << where;
  const StatusCode code = outs[survivors[0].value].status.code();
  for (PeerId p : survivors) {
    EXPECT_EQ(outs[p.value].status.code(), code) << where << ": survivors disagree";
    if (code == StatusCode::kOk) {
      EXPECT_EQ(bufs[p.value], SumOf(everyone, len)) << where << ": completed without the sum of all";
    } else {
      EXPECT_EQ(code, StatusCode::kPeerLost) << where;
      EXPECT_EQ(bufs[p.value], Input(static_cast<int>(p.value), len)) << where << ": not restored";
    }
  }
  if (code == StatusCode::kOk) return {};
  // Retry over the survivors.
  std::vector<Outcome> retried(n);
  for (PeerId p : survivors) {
    AllReduceWithRetry(net.group(p), net.host(p), bufs[p.value], ReduceOp::kSum, 5,
                       Record(retried[p.value]));
  }
  EXPECT_TRUE(net.Run([&] {
    for (PeerId p : survivors) if (!retried[p.value].called) return false;
    return true;
  }, 10)) << where;
  for (PeerId p : survivors) {
    EXPECT_TRUE(retried[p.value].status.ok()) << where << ": " << retried[p.value].status.ToString();
    EXPECT_EQ(bufs[p.value], SumOf(survivors, len)) << where;
    EXPECT_EQ(net.group(p).members(), survivors) << where;
    EXPECT_EQ(net.group(p).epoch(), net.group(survivors[0]).epoch()) << where;
  }
  return {.aborted = true};
}

void CrashAtEveryInstant(bool notify_down) {
  const int n = 4;
  const size_t len = 11;
  const uint64_t total = CleanDeliveries(n, len);
  ASSERT_GT(total, 20u);
  int aborted = 0, completed = 0;
  for (uint64_t index = 0; index < total; ++index) {
    const CrashResult r = CrashAndRetry(n, len, PeerId(index % n), index, notify_down);
    (r.aborted ? aborted : completed) += 1;
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(aborted, 0);
  std::printf("crash sweep (%s): %d of %llu instants aborted, %d completed\n",
              notify_down ? "peer-down" : "timeout", aborted,
              static_cast<unsigned long long>(total), completed);
}

TEST(CollectiveFaults, SurvivorsAgreeWhenPeerCrashesAtAnyDeliveryPeerDown) {
  CrashAtEveryInstant(/*notify_down=*/true);
}

TEST(CollectiveFaults, SurvivorsAgreeWhenPeerCrashesAtAnyDeliveryTimeoutOnly) {
  CrashAtEveryInstant(/*notify_down=*/false);
}

// 1,000 seeds: group size, length, victim, crash instant, detection.
TEST(CollectiveFaults, CrashesOverSeedsSizesAndVictims) {
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    const int n = 2 + static_cast<int>(seed % 6);
    const size_t len = seed % 13;
    const uint64_t total = CleanDeliveries(n, len);
    if (total == 0) continue;
    CrashAndRetry(n, len, PeerId(seed % n), (seed * 7919) % total, seed % 2 == 0);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(CollectiveFaults, JoinBetweenOperationsTakesEffectAtTheNextEpoch) {
  GroupNet net(3, Options(), 5);
  std::vector<std::vector<float>> bufs = {Input(0, 5), Input(1, 5), Input(2, 5), Input(3, 5)};
  std::vector<Outcome> outs(4);
  for (int i = 0; i < 3; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum, Record(outs[i]));
  }
  net.Drain();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(outs[i].status.ok());
  // Peer 3 asks to join; the members admit it at their next agreement.
  net.AddJoiner(PeerId(3), {PeerId(0), PeerId(1), PeerId(2)}, /*incarnation=*/0);
  std::vector<Outcome> agreed(4);
  net.group(PeerId(3)).AgreeMembership(net.host(PeerId(3)), Record(agreed[3]));
  net.Drain();
  EXPECT_FALSE(agreed[3].called);
  EXPECT_TRUE(net.group(PeerId(0)).has_pending_joins());
  for (int i = 0; i < 3; ++i) {
    net.group(PeerId(i)).AgreeMembership(net.host(PeerId(i)), Record(agreed[i]));
  }
  net.Drain();
  const std::vector<PeerId> all = {PeerId(0), PeerId(1), PeerId(2), PeerId(3)};
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(agreed[i].called && agreed[i].status.ok()) << "peer " << i;
    EXPECT_EQ(net.group(PeerId(i)).epoch(), 1u);
    EXPECT_EQ(net.group(PeerId(i)).members(), all);
  }
  bufs = {Input(0, 5), Input(1, 5), Input(2, 5), Input(3, 5)};
  std::vector<Outcome> second(4);
  for (int i = 0; i < 4; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum, Record(second[i]));
  }
  net.Drain();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(second[i].status.ok());
    EXPECT_EQ(bufs[i], SumOf(all, 5));
  }
}

// An agreement that starts while an operation is in flight (here peer 0
// agrees mid-operation, as when a restarted peer's view reaches it) decides
// only once that operation ended: otherwise the members could commit it
// after admitting a joiner, which counts it as not done and pairs its first
// operation with their next one (DiLoCo: the joiner a step behind, for
// good). Over seeds, every member's operation commits in the epoch it began,
// every peer then decides the same next epoch with the joiner, and the
// joiner's first all-reduce pairs with theirs (the sum of all four).
TEST(CollectiveFaults, AnAgreementStartedMidOperationDecidesOnlyAfterItEnds) {
  const std::vector<PeerId> all = {PeerId(0), PeerId(1), PeerId(2), PeerId(3)};
  for (uint64_t seed = 0; seed < 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    GroupNet net(3, Options(), seed);
    std::vector<std::vector<float>> bufs = {Input(0, 7), Input(1, 7), Input(2, 7), Input(3, 7)};
    std::vector<Outcome> outs(3);
    std::vector<uint32_t> epoch_at_commit(3, 99);
    for (int i = 0; i < 3; ++i) {
      CollectiveGroup& g = net.group(PeerId(i));
      g.AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum,
                  [&, i](Host& h, const Status& s) {
                    epoch_at_commit[i] = net.group(PeerId(i)).epoch();
                    Record(outs[i])(h, s);
                  });
    }
    net.AddJoiner(PeerId(3), {PeerId(0), PeerId(1), PeerId(2)}, /*incarnation=*/0);
    std::vector<Outcome> agreed(4);
    net.group(PeerId(3)).AgreeMembership(net.host(PeerId(3)), Record(agreed[3]));
    net.group(PeerId(0)).AgreeMembership(net.host(PeerId(0)), Record(agreed[0]));
    ASSERT_TRUE(net.Run([&] { return agreed[0].called && agreed[3].called; }));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(outs[i].called && outs[i].status.ok()) << "peer " << i << ": "
                                                         << outs[i].status.ToString();
      EXPECT_EQ(epoch_at_commit[i], 0u) << "peer " << i << " committed after deciding";
      EXPECT_EQ(bufs[i], SumOf({PeerId(0), PeerId(1), PeerId(2)}, 7));
    }
    // Every peer reaches the same epoch with the joiner (peers 1 and 2
    // agree through peer 0's views; they call AgreeMembership as a retry
    // would, which joins the agreement or returns once decided).
    for (int i = 1; i < 3; ++i) {
      net.group(PeerId(i)).AgreeMembership(net.host(PeerId(i)), Record(agreed[i]));
    }
    ASSERT_TRUE(net.Run([&] { return agreed[1].called && agreed[2].called; }));
    const uint32_t epoch = net.group(PeerId(3)).epoch();
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(agreed[i].status.ok()) << "peer " << i;
      EXPECT_EQ(net.group(PeerId(i)).members(), all) << "peer " << i;
    }
    bufs = {Input(0, 7), Input(1, 7), Input(2, 7), Input(3, 7)};
    std::vector<Outcome> second(4);
    for (int i = 0; i < 4; ++i) {
      if (net.group(PeerId(i)).epoch() != epoch) continue;
      net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum,
                                     Record(second[i]));
    }
    net.Drain();
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(net.group(PeerId(i)).epoch(), epoch) << "peer " << i;
      ASSERT_TRUE(second[i].called && second[i].status.ok()) << "peer " << i;
      EXPECT_EQ(bufs[i], SumOf(all, 7)) << "peer " << i;
    }
  }
}

TEST(CollectiveFaults, CrashedPeerRestartsAndIsReadmittedUnderANewIncarnation) {
  GroupNet net(4, Options(), 8);
  std::vector<std::vector<float>> bufs = {Input(0, 6), Input(1, 6), Input(2, 6), Input(3, 6)};
  std::vector<Outcome> outs(4);
  net.CrashBefore(PeerId(2), 5, /*notify_down=*/true);
  for (int i = 0; i < 4; ++i) {
    AllReduceWithRetry(net.group(PeerId(i)), net.host(PeerId(i)), bufs[i], ReduceOp::kSum, 5,
                       Record(outs[i]));
  }
  const std::vector<PeerId> survivors = {PeerId(0), PeerId(1), PeerId(3)};
  ASSERT_TRUE(net.Run([&] { return outs[0].called && outs[1].called && outs[3].called; }));
  for (PeerId p : survivors) {
    ASSERT_TRUE(outs[p.value].status.ok());
    EXPECT_EQ(bufs[p.value], SumOf(survivors, 6));
  }
  // Peer 2 restarts knowing nothing (incarnation 0, the dead one's).
  net.AddJoiner(PeerId(2), {PeerId(0), PeerId(1), PeerId(3)}, 0);
  std::vector<Outcome> agreed(4);
  net.group(PeerId(2)).AgreeMembership(net.host(PeerId(2)), Record(agreed[2]));
  net.Drain();
  for (PeerId p : survivors) net.group(p).AgreeMembership(net.host(p), Record(agreed[p.value]));
  ASSERT_TRUE(net.Run([&] { return agreed[0].called && agreed[1].called && agreed[2].called && agreed[3].called; }));
  const std::vector<PeerId> all = {PeerId(0), PeerId(1), PeerId(2), PeerId(3)};
  for (PeerId p : all) {
    EXPECT_EQ(net.group(p).members(), all);
    EXPECT_EQ(net.group(p).epoch(), net.group(PeerId(0)).epoch());
  }
  for (const ViewEntry& e : net.group(PeerId(0)).view().entries()) {
    if (e.peer == PeerId(2)) {
      EXPECT_EQ(e.incarnation, 1u);
    }
  }
  bufs = {Input(0, 6), Input(1, 6), Input(2, 6), Input(3, 6)};
  std::vector<Outcome> again(4);
  for (PeerId p : all) {
    net.group(p).AllReduce(net.host(p), bufs[p.value], ReduceOp::kSum, Record(again[p.value]));
  }
  net.Drain();
  for (PeerId p : all) {
    ASSERT_TRUE(again[p.value].status.ok());
    EXPECT_EQ(bufs[p.value], SumOf(all, 6));
  }
}

// A failure detector's mistake: peer 0 is told peer 2 is down while it is
// not. The next agreement must not split the group into {0, 1} and {2}:
// peer 2 hears that it was marked dead and refutes it with a higher
// incarnation, and all three agree on {0, 1, 2}.
TEST(CollectiveFaults, FalselySuspectedPeerRefutesAndStaysInTheGroup) {
  GroupNet net(3, Options(), 4);
  net.group(PeerId(0)).OnPeerDown(net.host(PeerId(0)), PeerId(2));
  const std::vector<PeerId> all = {PeerId(0), PeerId(1), PeerId(2)};
  std::vector<std::vector<float>> bufs = {Input(0, 4), Input(1, 4), Input(2, 4)};
  std::vector<Outcome> outs(3);
  for (PeerId p : all) {
    AllReduceWithRetry(net.group(p), net.host(p), bufs[p.value], ReduceOp::kSum, 5, Record(outs[p.value]));
  }
  ASSERT_TRUE(net.Run([&] { return outs[0].called && outs[1].called && outs[2].called; }));
  for (PeerId p : all) {
    ASSERT_TRUE(outs[p.value].status.ok()) << outs[p.value].status.ToString();
    EXPECT_EQ(net.group(p).members(), all) << "peer " << p;
    EXPECT_EQ(bufs[p.value], SumOf(all, 4));
  }
  EXPECT_GE(net.Counter(PeerId(2), "collective.agreements"), 1);
}

// With a quorum of 2 out of 3, the last survivor of two crashes does not
// decide a group of its own; without one it does.
TEST(CollectiveFaults, QuorumKeepsALoneSurvivorFromGoingOnAlone) {
  for (uint32_t quorum : {1u, 2u}) {
    CollectiveOptions o = Options();
    o.min_members = quorum;
    GroupNet net(3, o, 6);
    net.Crash(PeerId(1), /*notify_down=*/false);
    net.Crash(PeerId(2), /*notify_down=*/false);
    Outcome agreed;
    net.group(PeerId(0)).AgreeMembership(net.host(PeerId(0)), Record(agreed));
    net.Run([&] { return agreed.called; }, 10);
    EXPECT_EQ(agreed.called, quorum == 1) << "quorum " << quorum;
    EXPECT_EQ(net.group(PeerId(0)).agreeing(), quorum == 2);
  }
}

TEST(CollectiveFaults, TwoCrashesLeaveTheOthersAgreeingOnOneMembership) {
  GroupNet net(6, Options(), 3);
  std::vector<std::vector<float>> bufs;
  for (int i = 0; i < 6; ++i) bufs.push_back(Input(i, 9));
  std::vector<Outcome> outs(6);
  net.CrashBefore(PeerId(4), 7, /*notify_down=*/false);
  for (int i = 0; i < 6; ++i) {
    AllReduceWithRetry(net.group(PeerId(i)), net.host(PeerId(i)), bufs[i], ReduceOp::kSum, 5,
                       Record(outs[i]));
  }
  net.Drain();
  net.Crash(PeerId(1), /*notify_down=*/false);
  const std::vector<PeerId> survivors = {PeerId(0), PeerId(2), PeerId(3), PeerId(5)};
  ASSERT_TRUE(net.Run([&] {
    for (PeerId p : survivors) if (!outs[p.value].called) return false;
    return true;
  }));
  for (PeerId p : survivors) {
    ASSERT_TRUE(outs[p.value].status.ok()) << outs[p.value].status.ToString();
    EXPECT_EQ(net.group(p).members(), survivors);
    EXPECT_EQ(bufs[p.value], SumOf(survivors, 9));
  }
}

}  // namespace
}  // namespace murmur::collective
