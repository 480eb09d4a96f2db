// AllGather (collective/all_gather.h): every member ends with every member's
// vector in member order, bit for bit, over more members than one wave of
// broadcasts. (A crash at every delivery index is not tested here yet: see
// docs/protocols/diloco.md, "Not done".)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "group_net.h"
#include "murmur/collective/all_gather.h"

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

}  // namespace
}  // namespace murmur::collective
