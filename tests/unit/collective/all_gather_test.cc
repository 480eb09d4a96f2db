// AllGather (collective/all_gather.h): every member ends with every member's
// vector in member order, bit for bit, over more members than one wave of
// broadcasts; and AllGatherWithRetry with a peer crashed before every
// delivery: every survivor ends with the same outcome, the same final
// membership and bit-identical vectors over it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "group_net.h"
#include "murmur/collective/all_gather.h"
#include "murmur/collective/retry.h"

namespace murmur::collective {
namespace {

using test::GroupNet;
using test::Options;
using test::Outcome;
using test::Record;

std::vector<float> Input(uint32_t peer, size_t len) {
  std::vector<float> v(len);
  for (size_t j = 0; j < len; ++j) v[j] = static_cast<float>(peer * 100 + j);
  return v;
}

std::vector<float> Concat(const std::vector<PeerId>& peers, size_t len) {
  std::vector<float> all;
  for (PeerId p : peers) {
    const std::vector<float> v = Input(p.value, len);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

TEST(AllGather, TenPeersGetEveryVectorInMemberOrder) {
  // Ten members: more broadcasts than one wave (kAllGatherWave = 8).
  const int n = 10;
  const size_t len = 5;
  GroupNet net(n, Options(), 3);
  std::vector<std::vector<float>> mine, gathered(n);
  std::vector<Outcome> outs(n);
  std::vector<PeerId> everyone;
  for (int i = 0; i < n; ++i) {
    mine.push_back(Input(i, len));
    everyone.push_back(PeerId(i));
  }
  for (int i = 0; i < n; ++i) {
    AllGather(net.group(PeerId(i)), net.host(PeerId(i)), mine[i], &gathered[i], Record(outs[i]));
  }
  ASSERT_TRUE(net.Run([&] {
    for (const Outcome& o : outs) if (!o.called) return false;
    return true;
  }));
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(outs[i].status.ok()) << outs[i].status.ToString();
    EXPECT_EQ(gathered[i], Concat(everyone, len)) << "peer " << i;
  }
}

// Deliveries of a clean AllGatherWithRetry of `n` peers.
uint64_t CleanGatherDeliveries(int n, size_t len) {
  GroupNet net(n, Options(), 5);
  std::vector<std::vector<float>> mine, gathered(n);
  std::vector<std::vector<PeerId>> members(n);
  std::vector<Outcome> outs(n);
  for (int i = 0; i < n; ++i) mine.push_back(Input(i, len));
  for (int i = 0; i < n; ++i) {
    AllGatherWithRetry(net.group(PeerId(i)), net.host(PeerId(i)), mine[i], &gathered[i],
                       &members[i], 5, Record(outs[i]));
  }
  net.Drain();
  return net.delivered();
}

// Crashes `victim` before delivery `index` of an AllGatherWithRetry of `n`
// peers; returns whether the survivors gathered over fewer than n members.
bool GatherWithCrash(int n, size_t len, PeerId victim, uint64_t index, bool notify_down) {
  GroupNet net(n, Options(), index * 17 + victim.value);
  std::vector<std::vector<float>> mine, gathered(n);
  std::vector<std::vector<PeerId>> members(n);
  std::vector<Outcome> outs(n);
  for (int i = 0; i < n; ++i) mine.push_back(Input(i, len));
  net.CrashBefore(victim, index, notify_down);
  for (int i = 0; i < n; ++i) {
    AllGatherWithRetry(net.group(PeerId(i)), net.host(PeerId(i)), mine[i], &gathered[i],
                       &members[i], 5, Record(outs[i]));
  }
  const std::string where = "n " + std::to_string(n) + " victim " +
                            std::to_string(victim.value) + " before delivery " +
                            std::to_string(index) + (notify_down ? " (peer-down)" : " (timeout)");
  EXPECT_TRUE(net.Run([&] {
    if (net.Alive().size() == size_t(n)) return false;  // the crash is still to come
    for (PeerId p : net.Alive()) if (!outs[p.value].called) return false;
    return true;
  }, 20)) << where;
  const std::vector<PeerId> survivors = net.Alive();
  EXPECT_EQ(survivors.size(), size_t(n - 1)) << where;
  const PeerId first = survivors[0];
  for (PeerId p : survivors) {
    EXPECT_TRUE(outs[p.value].status.ok())
        << where << ": peer " << p.value << ": " << outs[p.value].status.ToString();
    EXPECT_EQ(members[p.value], members[first.value]) << where << ": peer " << p.value;
    EXPECT_EQ(gathered[p.value], Concat(members[first.value], len))
        << where << ": peer " << p.value;
  }
  return members[first.value].size() < size_t(n);
}

void GatherCrashSweep(int n, PeerId victim, bool notify_down) {
  const size_t len = 5;
  const uint64_t total = CleanGatherDeliveries(n, len);
  ASSERT_GT(total, 20u);
  int shrunk = 0;
  for (uint64_t index = 0; index < total; ++index) {
    shrunk += GatherWithCrash(n, len, victim, index, notify_down) ? 1 : 0;
    if (::testing::Test::HasFailure()) return;
  }
  // Early crashes must make the group shrink; late ones (after the commit)
  // leave the full gather.
  EXPECT_GT(shrunk, 0);
  EXPECT_LT(shrunk, static_cast<int>(total));
  std::printf("all-gather crash sweep (n %d, victim %u, %s): %d of %llu gathered over the survivors\n",
              n, victim.value, notify_down ? "peer-down" : "timeout", shrunk,
              static_cast<unsigned long long>(total));
}

TEST(AllGather, FourPeersAgreeWhenPeerTwoCrashesAtAnyDeliveryPeerDown) {
  GatherCrashSweep(4, PeerId(2), /*notify_down=*/true);
}

TEST(AllGather, FourPeersAgreeWhenPeerTwoCrashesAtAnyDeliveryTimeoutOnly) {
  GatherCrashSweep(4, PeerId(2), /*notify_down=*/false);
}

TEST(AllGather, AgreeWhenAnyPeerCrashesAtAnyDelivery) {
  for (int n : {3, 4}) {
    for (uint32_t v = 0; v < static_cast<uint32_t>(n); ++v) {
      GatherCrashSweep(n, PeerId(v), v % 2 == 0);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace murmur::collective
