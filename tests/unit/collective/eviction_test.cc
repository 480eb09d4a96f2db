// A crashed peer started again as a founder (its original command line, no
// rejoin): epoch 0, incarnation 0, a stale buffer. The members hold it dead
// and have moved to later epochs; its first message of epoch 0 is answered
// with Evicted, so its operation ends with kAborted (buffer restored, not
// retried: a retry would pair its stale buffer with the members' next
// operation), it turns into a joiner, and the members' next agreement
// admits it. Before, it was readmitted as it was (one epoch behind:
// through the refutation of its death) or, when the members were two or
// more epochs ahead, decided a group of its own and never heard from them.
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

// Seeds vary the group size (3-6), the victim, how many epochs the members
// went through without it (1-3), the length and the delivery order.
TEST(CollectiveEviction, RestartedFounderIsEvictedThenAdmittedAsAJoinerNeverMixingItsBuffer) {
  for (uint64_t seed = 0; seed < 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const int n = 3 + static_cast<int>(seed % 4);
    const PeerId victim(static_cast<uint32_t>(seed * 7 % n));
    const size_t len = 1 + seed % 9;
    GroupNet net(n, Options(), seed);
    std::vector<PeerId> all;
    for (int i = 0; i < n; ++i) all.push_back(PeerId(i));
    std::vector<PeerId> survivors = all;
    std::erase(survivors, victim);

    net.Crash(victim, /*notify_down=*/true);
    for (int extra = 0; extra < 1 + static_cast<int>(seed % 3); ++extra) {
      std::vector<Outcome> agreed(n);
      for (PeerId p : survivors) net.group(p).AgreeMembership(net.host(p), Record(agreed[p.value]));
      ASSERT_TRUE(net.Run([&] {
        return std::all_of(survivors.begin(), survivors.end(),
                           [&](PeerId p) { return agreed[p.value].called; });
      }));
    }
    const uint32_t members_epoch = net.group(survivors[0]).epoch();
    ASSERT_GE(members_epoch, 1u);
    ASSERT_EQ(net.group(survivors[0]).members(), survivors);

    // It restarts as a founder and runs an all-reduce of a stale buffer
    // while the members run their next one.
    net.RestartAsFounder(victim, all);
    std::vector<std::vector<float>> bufs(n);
    for (PeerId p : all) bufs[p.value] = Input(static_cast<int>(p.value), len);
    std::vector<Outcome> outs(n);
    for (PeerId p : all) {
      AllReduceWithRetry(net.group(p), net.host(p), bufs[p.value], ReduceOp::kSum, 5,
                         Record(outs[p.value]));
    }
    ASSERT_TRUE(net.Run([&] {
      return std::all_of(all.begin(), all.end(), [&](PeerId p) { return outs[p.value].called; });
    }));
    EXPECT_EQ(outs[victim.value].status.code(), StatusCode::kAborted)
        << outs[victim.value].status.ToString();
    EXPECT_EQ(bufs[victim.value], Input(static_cast<int>(victim.value), len));
    EXPECT_EQ(net.group(victim).evictions(), 1u);
    EXPECT_TRUE(net.group(victim).agreeing());  // a joiner now
    int64_t notices = 0;
    for (PeerId p : survivors) {
      ASSERT_TRUE(outs[p.value].status.ok()) << "peer " << p.value;
      EXPECT_EQ(bufs[p.value], SumOf(survivors, len)) << "peer " << p.value;
      EXPECT_EQ(net.group(p).epoch(), members_epoch);
      notices += net.Counter(p, "collective.evicted_notices");
    }
    EXPECT_GE(notices, 1);

    // Admitted at the members' next agreement (DiLoCo's outer-step
    // boundary), under an incarnation above the dead one; then an
    // all-reduce over everybody.
    // (Its Join is held by the members until their next agreement.)
    std::vector<Outcome> agreed(n);
    net.group(victim).AgreeMembership(net.host(victim), Record(agreed[victim.value]));
    net.Drain();
    EXPECT_TRUE(net.group(survivors[0]).has_pending_joins());
    for (PeerId p : survivors) net.group(p).AgreeMembership(net.host(p), Record(agreed[p.value]));
    ASSERT_TRUE(net.Run([&] {
      return std::all_of(all.begin(), all.end(), [&](PeerId p) { return agreed[p.value].called; });
    }));
    for (PeerId p : all) {
      ASSERT_TRUE(agreed[p.value].status.ok());
      EXPECT_EQ(net.group(p).members(), all) << "peer " << p.value;
      EXPECT_EQ(net.group(p).epoch(), net.group(survivors[0]).epoch());
    }
    for (PeerId p : all) bufs[p.value] = Input(static_cast<int>(p.value), len);
    std::vector<Outcome> again(n);
    for (PeerId p : all) {
      net.group(p).AllReduce(net.host(p), bufs[p.value], ReduceOp::kSum, Record(again[p.value]));
    }
    net.Drain();
    for (PeerId p : all) {
      ASSERT_TRUE(again[p.value].called && again[p.value].status.ok()) << "peer " << p.value;
      EXPECT_EQ(bufs[p.value], SumOf(all, len)) << "peer " << p.value;
    }
  }
}

// An old notice changes nothing: a member of the epoch named or a later
// one ignores it.
TEST(CollectiveEviction, StaleNoticesAreIgnored) {
  GroupNet net(3, Options(), 1);
  std::vector<Outcome> agreed(3);
  for (int i = 0; i < 3; ++i) {
    net.group(PeerId(i)).AgreeMembership(net.host(PeerId(i)), Record(agreed[i]));
  }
  ASSERT_TRUE(net.Run([&] { return agreed[0].called && agreed[1].called && agreed[2].called; }));
  ASSERT_EQ(net.group(PeerId(2)).epoch(), 1u);
  // Epoch 1 names this peer's own epoch: not one it was left out of.
  net.group(PeerId(2)).OnMessage(net.host(PeerId(2)), PeerId(0), EncodeEvicted(1, 0));
  EXPECT_EQ(net.group(PeerId(2)).evictions(), 0u);
  EXPECT_FALSE(net.group(PeerId(2)).agreeing());
  EXPECT_EQ(net.Counter(PeerId(2), "collective.dropped_stale"), 1);
  // A later epoch counts: it becomes a joiner.
  net.group(PeerId(2)).OnMessage(net.host(PeerId(2)), PeerId(0), EncodeEvicted(2, 0));
  EXPECT_EQ(net.group(PeerId(2)).evictions(), 1u);
  EXPECT_TRUE(net.group(PeerId(2)).agreeing());
  // A truncated notice is a bad peer, not a crash.
  std::vector<uint8_t> bad = EncodeEvicted(9, 0);
  bad.pop_back();
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0), bad);
  EXPECT_EQ(net.group(PeerId(1)).evictions(), 0u);
  EXPECT_EQ(net.host(PeerId(1)).bad_peers, std::vector<PeerId>{PeerId(0)});
}

}  // namespace
}  // namespace murmur::collective
