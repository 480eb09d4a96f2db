// Ring all-reduce and broadcast over GroupNet (seeded delivery orders):
// exact sums on hand-chosen and integer-valued inputs, bit-identical
// results, several operations in flight, and the bounds on what a peer can
// make us hold.
#include <gtest/gtest.h>

#include <random>

#include "group_net.h"
#include "murmur/collective/collective_message.h"

namespace murmur::collective {
namespace {

using test::GroupNet;
using test::Options;
using test::Outcome;
using test::Record;

bool AllCalled(const std::vector<Outcome>& outs, const std::vector<PeerId>& who) {
  for (PeerId p : who) {
    if (!outs[p.value].called) return false;
  }
  return true;
}

TEST(RingAllReduce, ThreePeersSumHandChosenVectors) {
  GroupNet net(3, Options(1), /*seed=*/1);
  std::vector<std::vector<float>> bufs = {{1, 2}, {3, 4}, {5, 6}};
  std::vector<Outcome> outs(3);
  for (int i = 0; i < 3; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum, Record(outs[i]));
  }
  ASSERT_TRUE(net.Run([&] { return AllCalled(outs, net.Alive()); }, 0));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(outs[i].status.ok()) << outs[i].status.ToString();
    EXPECT_EQ(bufs[i], (std::vector<float>{9, 12})) << "peer " << i;
  }
}

TEST(RingAllReduce, AverageOfFourPeers) {
  GroupNet net(4, Options(2), 2);
  std::vector<std::vector<float>> bufs = {{0, 4, 8}, {4, 8, 0}, {8, 0, 4}, {4, 4, 4}};
  std::vector<Outcome> outs(4);
  for (int i = 0; i < 4; ++i) {
    net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kAverage,
                                   Record(outs[i]));
  }
  ASSERT_TRUE(net.Run([&] { return AllCalled(outs, net.Alive()); }, 0));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bufs[i], (std::vector<float>{4, 4, 4}));
}

// peer i, element j holds 100 i + j: the sum is 100 n(n-1)/2 + n j.
TEST(RingAllReduce, ExactSumForTwoToEightPeersAndAwkwardLengths) {
  for (int n = 2; n <= 8; ++n) {
    for (size_t len : {size_t{1}, size_t{3}, size_t{7}, size_t{64}, size_t{1001}}) {
      GroupNet net(n, Options(4), 10 * n + len);
      std::vector<std::vector<float>> bufs(n, std::vector<float>(len));
      for (int i = 0; i < n; ++i) {
        for (size_t j = 0; j < len; ++j) bufs[i][j] = static_cast<float>(100 * i + j);
      }
      std::vector<Outcome> outs(n);
      for (int i = 0; i < n; ++i) {
        net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum,
                                       Record(outs[i]));
      }
      ASSERT_TRUE(net.Run([&] { return AllCalled(outs, net.Alive()); }, 0))
          << "n=" << n << " len=" << len;
      for (int i = 0; i < n; ++i) {
        ASSERT_TRUE(outs[i].status.ok());
        for (size_t j = 0; j < len; ++j) {
          ASSERT_EQ(bufs[i][j], static_cast<float>(50 * n * (n - 1) + n * j))
              << "n=" << n << " len=" << len << " peer " << i << " element " << j;
        }
      }
    }
  }
}

// Over many seeds: random group sizes, lengths (zero, below the group size,
// not a multiple of it), chunk sizes and delivery orders. Integer values
// keep the sums exact; every member ends bit-identical.
TEST(RingAllReduce, SumIsExactAndIdenticalOverSeeds) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    std::mt19937_64 rng(seed);
    const int n = 2 + static_cast<int>(rng() % 7);
    const size_t len = rng() % 40;
    GroupNet net(n, Options(1 + rng() % 6), seed);
    std::vector<std::vector<float>> bufs(n, std::vector<float>(len));
    std::vector<double> expect(len, 0);
    for (int i = 0; i < n; ++i) {
      for (size_t j = 0; j < len; ++j) {
        bufs[i][j] = static_cast<float>(static_cast<int>(rng() % 2001) - 1000);
        expect[j] += bufs[i][j];
      }
    }
    std::vector<Outcome> outs(n);
    for (int i = 0; i < n; ++i) {
      net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[i], ReduceOp::kSum,
                                     Record(outs[i]));
    }
    ASSERT_TRUE(net.Run([&] { return AllCalled(outs, net.Alive()); }, 0)) << "seed " << seed;
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(outs[i].status.ok()) << "seed " << seed;
      for (size_t j = 0; j < len; ++j) {
        ASSERT_EQ(bufs[i][j], static_cast<float>(expect[j])) << "seed " << seed;
      }
      ASSERT_EQ(bufs[i], bufs[0]) << "seed " << seed;
    }
  }
}

TEST(RingBroadcast, EveryMemberGetsTheRootsBufferOverSeeds) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    std::mt19937_64 rng(seed);
    const int n = 2 + static_cast<int>(rng() % 7);
    const size_t len = rng() % 30;
    const PeerId root(static_cast<uint32_t>(rng() % n));
    GroupNet net(n, Options(1 + rng() % 5), seed);
    std::vector<std::vector<float>> bufs(n, std::vector<float>(len));
    for (int i = 0; i < n; ++i) {
      for (size_t j = 0; j < len; ++j) bufs[i][j] = static_cast<float>(i * 1000 + j);
    }
    const std::vector<float> want = bufs[root.value];
    std::vector<Outcome> outs(n);
    for (int i = 0; i < n; ++i) {
      net.group(PeerId(i)).Broadcast(net.host(PeerId(i)), bufs[i], root, Record(outs[i]));
    }
    ASSERT_TRUE(net.Run([&] { return AllCalled(outs, net.Alive()); }, 0)) << "seed " << seed;
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(outs[i].status.ok());
      ASSERT_EQ(bufs[i], want) << "seed " << seed << " peer " << i;
    }
  }
}

TEST(RingAllReduce, SeveralTaggedOperationsInFlightAtOnce) {
  const int n = 4, ops = 3;
  GroupNet net(n, Options(3), 7);
  std::vector<std::vector<std::vector<float>>> bufs(ops);
  std::vector<std::vector<Outcome>> outs(ops, std::vector<Outcome>(n));
  for (int k = 0; k < ops; ++k) {
    bufs[k].assign(n, std::vector<float>(10 + k));
    for (int i = 0; i < n; ++i) {
      for (size_t j = 0; j < bufs[k][i].size(); ++j) bufs[k][i][j] = float(k * 100 + i + j);
    }
  }
  // Every peer starts all three before anything is delivered.
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < ops; ++k) {
      net.group(PeerId(i)).AllReduce(net.host(PeerId(i)), bufs[k][i], ReduceOp::kSum,
                                     Record(outs[k][i]));
    }
    EXPECT_EQ(net.group(PeerId(i)).in_flight(), size_t{ops});
  }
  ASSERT_TRUE(net.Run([&] {
    for (auto& o : outs) if (!AllCalled(o, net.Alive())) return false;
    return true;
  }, 0));
  for (int k = 0; k < ops; ++k) {
    for (int i = 0; i < n; ++i) {
      for (size_t j = 0; j < bufs[k][i].size(); ++j) {
        ASSERT_EQ(bufs[k][i][j], float(n * (k * 100 + j) + 6)) << "op " << k;
      }
    }
  }
}

TEST(RingAllReduce, OnePeerGroupCompletesAtOnce) {
  GroupNet net(1, Options(4), 1);
  std::vector<float> buf = {1, 2, 3};
  Outcome out;
  net.group(PeerId(0)).AllReduce(net.host(PeerId(0)), buf, ReduceOp::kAverage, Record(out));
  EXPECT_TRUE(out.called && out.status.ok());
  EXPECT_EQ(buf, (std::vector<float>{1, 2, 3}));
}

TEST(RingAllReduce, ChunksForAnOperationNotStartedAreDroppedAndCounted) {
  GroupNet net(2, Options(4), 1);
  std::vector<float> values = {1, 2};
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0),
                                 EncodeChunk(OpTag{0, 0}, 0, 0, values));
  EXPECT_EQ(net.Counter(PeerId(1), "collective.dropped_unexpected"), 1);
  // A Done before the start is kept (a broadcast's root sends it without
  // waiting for the last member), inside the window only.
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0), EncodeDone(OpTag{0, 0}));
  EXPECT_EQ(net.Counter(PeerId(1), "collective.dropped_unexpected"), 1);
  EXPECT_EQ(net.Counter(PeerId(1), "collective.dropped_beyond_window"), 0);
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0), EncodeDone(OpTag{0, 99}));
  EXPECT_EQ(net.Counter(PeerId(1), "collective.dropped_beyond_window"), 1);
}

TEST(RingBroadcast, DoneBeforeTheLastMemberStartsIsKept) {
  // Ring 0 -> 1 -> 2, root 0: peers 0 and 1 finish their part and send
  // Done before peer 2 has started; peer 2 must still commit (it dropped
  // those Dones before, and timed out while 0 and 1 had completed).
  GroupNet net(3, Options(2), 4);
  std::vector<std::vector<float>> bufs = {{7, 8, 9}, {0, 0, 0}, {0, 0, 0}};
  std::vector<Outcome> outs(3);
  for (int i = 0; i < 2; ++i) {
    net.group(PeerId(i)).Broadcast(net.host(PeerId(i)), bufs[i], PeerId(0), Record(outs[i]));
  }
  net.Drain();
  EXPECT_FALSE(outs[0].called || outs[1].called);
  net.group(PeerId(2)).Broadcast(net.host(PeerId(2)), bufs[2], PeerId(0), Record(outs[2]));
  net.Drain();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(outs[i].called) << "peer " << i;
    EXPECT_TRUE(outs[i].status.ok()) << outs[i].status.ToString();
    EXPECT_EQ(bufs[i], (std::vector<float>{7, 8, 9})) << "peer " << i;
  }
}

TEST(RingAllReduce, ReadyBeyondTheSequenceWindowIsDropped) {
  CollectiveOptions o = Options(4);
  o.seq_window = 4;
  GroupNet net(2, o, 1);
  for (uint32_t seq = 0; seq < 10; ++seq) {
    net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0),
                                   EncodeReady(OpTag{0, seq}, ReadyBody{.length = 2}));
  }
  EXPECT_EQ(net.Counter(PeerId(1), "collective.dropped_beyond_window"), 6);
  // A far-future epoch is refused too.
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0),
                                 EncodeReady(OpTag{9, 0}, ReadyBody{.length = 2}));
  EXPECT_EQ(net.Counter(PeerId(1), "collective.dropped_beyond_window"), 7);
}

TEST(RingAllReduce, MalformedAndDuplicateChunksAreRejectedWithoutApplying) {
  GroupNet net(2, Options(2), 1);
  std::vector<float> a = {1, 1, 1, 1}, b = {2, 2, 2, 2};
  Outcome oa, ob;
  net.group(PeerId(0)).AllReduce(net.host(PeerId(0)), a, ReduceOp::kSum, Record(oa));
  net.group(PeerId(1)).AllReduce(net.host(PeerId(1)), b, ReduceOp::kSum, Record(ob));
  const std::vector<float> forged = {100, 100};
  // Truncated message, wrong length, wrong sender: nothing applied.
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0), std::vector<uint8_t>{0x51, 0});
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0),
                                 EncodeChunk(OpTag{0, 0}, 0, 0, std::vector<float>{1, 2, 3}));
  EXPECT_EQ(net.host(PeerId(1)).bad_peers.size(), 2u);
  net.Drain();
  ASSERT_TRUE(oa.status.ok() && ob.status.ok());
  EXPECT_EQ(a, (std::vector<float>{3, 3, 3, 3}));
  // A replay of a chunk after completion is stale, not added again.
  net.group(PeerId(1)).OnMessage(net.host(PeerId(1)), PeerId(0),
                                 EncodeChunk(OpTag{0, 0}, 0, 0, forged));
  EXPECT_EQ(b, (std::vector<float>{3, 3, 3, 3}));
  EXPECT_EQ(net.Counter(PeerId(1), "collective.dropped_stale"), 1);
}

TEST(CollectiveMessage, DecodersRefuseHugeCountsBeforeAllocating) {
  ByteWriter w;
  w.WriteU8(static_cast<uint8_t>(MessageKind::kCollectiveView));
  w.WriteU32(1);
  w.WriteU32(0);
  w.WriteU32(0xFFFFFFFF);
  ByteReader in(w.bytes());
  ASSERT_TRUE(ReadHeader(in).ok());
  EXPECT_EQ(ReadView(in, 1024).status().code(), StatusCode::kCorrupt);
  EXPECT_FALSE(IsCollectiveMessage(std::vector<uint8_t>{0x01}));
  EXPECT_TRUE(IsCollectiveMessage(std::vector<uint8_t>{0x51}));
}

}  // namespace
}  // namespace murmur::collective
