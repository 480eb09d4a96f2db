// Who may evict a member (CollectiveOptions::evicted_notices, agreement.cc
// HandleEvicted): only peers of its view, and with a threshold of k only k
// distinct ones (capped at the other peers it knows). One Byzantine insider
// then cannot force a member to abort its operations and resync.
#include <gtest/gtest.h>

#include "group_net.h"
#include "murmur/collective/collective_message.h"

namespace murmur::collective {
namespace {

using test::GroupNet;
using test::Options;

CollectiveOptions WithNotices(uint32_t k) {
  CollectiveOptions o = Options();
  o.evicted_notices = k;
  return o;
}

void Tell(GroupNet& net, PeerId to, PeerId from, uint32_t epoch) {
  net.group(to).OnMessage(net.host(to), from, EncodeEvicted(epoch, 0));
}

TEST(CollectiveEvictionQuorum, AStrangersNoticeNeverEvicts) {
  GroupNet net(4, WithNotices(1), 3);
  // Peer 7 is in nobody's view (and a peer cannot evict itself).
  Tell(net, PeerId(0), PeerId(7), 3);
  Tell(net, PeerId(0), PeerId(0), 3);
  EXPECT_EQ(net.group(PeerId(0)).evictions(), 0u);
  EXPECT_FALSE(net.group(PeerId(0)).agreeing());
  EXPECT_EQ(net.Counter(PeerId(0), "collective.dropped_evicted_stranger"), 2);
  // A peer of its view may (the default threshold, 1).
  Tell(net, PeerId(0), PeerId(2), 3);
  EXPECT_EQ(net.group(PeerId(0)).evictions(), 1u);
  EXPECT_TRUE(net.group(PeerId(0)).agreeing());
}

TEST(CollectiveEvictionQuorum, KDistinctPeersAreNeededNotKNotices) {
  for (uint32_t k = 2; k <= 3; ++k) {
    SCOPED_TRACE("k " + std::to_string(k));
    GroupNet net(4, WithNotices(k), k);
    const PeerId victim(1);
    // One insider repeating itself, for ever later epochs: no eviction.
    for (uint32_t epoch = 1; epoch < 6; ++epoch) Tell(net, victim, PeerId(0), epoch);
    EXPECT_EQ(net.group(victim).evictions(), 0u);
    EXPECT_FALSE(net.group(victim).agreeing());
    EXPECT_EQ(net.Counter(victim, "collective.evicted_notices_pending"), 5);
    // The k-th distinct peer's notice evicts it.
    for (uint32_t i = 2; i <= k; ++i) {
      EXPECT_EQ(net.group(victim).evictions(), 0u);
      Tell(net, victim, PeerId(i), 2);
    }
    EXPECT_EQ(net.group(victim).evictions(), 1u);
    EXPECT_TRUE(net.group(victim).agreeing());
  }
}

// A threshold above the peers it knows is capped: in a group of 2 the one
// other member's notice suffices (else a real eviction could never land).
TEST(CollectiveEvictionQuorum, ThresholdIsCappedAtTheOtherPeersKnown) {
  GroupNet net(2, WithNotices(5), 1);
  Tell(net, PeerId(0), PeerId(1), 1);
  EXPECT_EQ(net.group(PeerId(0)).evictions(), 1u);
}

}  // namespace
}  // namespace murmur::collective
