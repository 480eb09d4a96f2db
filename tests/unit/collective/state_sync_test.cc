// Shared-state hashes and resync over GroupNet: the BLAKE2b digest against
// Python's hashlib, a peer whose state disagrees with the majority pulls it
// in chunks from several holders at once and ends with identical bytes,
// also when a holder crashes mid-pull; a late joiner admitted between
// operations does the same and then takes part in the next all-reduce.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <set>

#include "group_net.h"
#include "murmur/collective/state_sync.h"

namespace murmur::collective {
namespace {

using test::GroupNet;

std::string Hex(const StateDigest& d) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

// Reference values: hashlib.blake2b(struct.pack('<Q', 2) +
// struct.pack('<ff', 1, 2), digest_size=32) and of struct.pack('<Q', 0).
TEST(StateHash, MatchesBlake2bOfTheDocumentedBytes) {
  const std::vector<float> v = {1.0f, 2.0f};
  EXPECT_EQ(Hex(HashState(v)), "5b7bf875653884a0e9bd8d020473bc9f518741edf4155ccbb9082fabfbec1bf7");
  EXPECT_EQ(Hex(HashState(std::span<const float>())),
            "81e47a19e6b29b0a65b9591762ce5143ed30d0261e5d24a3201752506b20f15c");
}

TEST(StateHash, SplittingThePartsOrFlippingOneBitChangesTheDigest) {
  const std::vector<float> a = {1, 2, 3};
  const std::vector<float> b = {1}, c = {2, 3};
  const std::span<const float> split[] = {b, c};
  EXPECT_NE(HashState(a), HashState(split));
  std::vector<float> flipped = a;
  uint32_t bits;
  std::memcpy(&bits, &flipped[2], 4);
  bits ^= 1;
  std::memcpy(&flipped[2], &bits, 4);
  EXPECT_NE(HashState(a), HashState(flipped));
}

CollectiveOptions GroupOptions() {
  CollectiveOptions o;
  o.chunk_floats = 8;
  o.timeout = Duration::Seconds(1);
  return o;
}

StateSyncOptions SyncOptions() {
  StateSyncOptions o;
  o.chunk_floats = 16;
  o.max_in_flight = 2;
  o.timeout = Duration::Seconds(1);
  return o;
}

std::vector<float> SharedState(size_t len) {
  std::vector<float> s(len);
  for (size_t j = 0; j < len; ++j) s[j] = 0.25f * static_cast<float>(j) - 3.0f;
  return s;
}

struct Fixture {
  Fixture(int n, size_t len) : net(n, GroupOptions(), 11) {
    for (int i = 0; i < n; ++i) {
      syncs.push_back(std::make_unique<StateSync>(SyncOptions(), PeerId(i)));
      states.push_back(SharedState(len));
      net.AttachSync(PeerId(i), syncs.back().get());
    }
    for (int i = 0; i < n; ++i) syncs[i]->Serve(states[i]);
  }
  // Every peer compares; a disagreeing one pulls. Returns when all are done.
  void CompareAndRepair(const std::vector<PeerId>& members, uint32_t step) {
    for (PeerId p : members) {
      const StateDigest mine = HashState(states[p.value]);
      syncs[p.value]->Compare(
          net.host(p), step, members, mine,
          [this, p](Host& h, const Status& s, const Comparison& c) {
            ASSERT_TRUE(s.ok()) << s.ToString();
            comparisons[p.value] = c;
            if (c.agrees) {
              done.insert(p.value);
              return;
            }
            syncs[p.value]->Pull(h, c.holders, c.majority, states[p.value],
                                 [this, p](Host&, const Status& pulled) {
                                   pull_status[p.value] = pulled;
                                   done.insert(p.value);
                                 });
          });
    }
    ASSERT_TRUE(net.Run([&] { return done.size() == members.size(); }));
  }

  GroupNet net;
  std::vector<std::unique_ptr<StateSync>> syncs;
  std::vector<std::vector<float>> states;
  std::map<uint32_t, Comparison> comparisons;
  std::map<uint32_t, Status> pull_status;
  std::set<uint32_t> done;
};

std::set<uint32_t> RequestTargets(testing::FakeHost& host) {
  std::set<uint32_t> to;
  for (const auto& sent : host.sent) {
    if (!sent.bytes.empty() && sent.bytes[0] == static_cast<uint8_t>(MessageKind::kStateRequest)) {
      to.insert(sent.to.value);
    }
  }
  return to;
}

TEST(StateSync, MinorityPeerPullsFromSeveralHoldersAndEndsIdentical) {
  Fixture f(5, 1000);
  f.states[3][417] += 1.0f;  // peer 3 diverged
  const std::vector<PeerId> members = {PeerId(0), PeerId(1), PeerId(2), PeerId(3), PeerId(4)};
  // Watch whom peer 3 asks: the first batch of requests goes out before
  // any delivery.
  std::set<uint32_t> asked;
  for (PeerId p : members) {
    const StateDigest mine = HashState(f.states[p.value]);
    f.syncs[p.value]->Compare(f.net.host(p), 1, members, mine,
                              [&, p](Host& h, const Status& s, const Comparison& c) {
                                ASSERT_TRUE(s.ok());
                                f.comparisons[p.value] = c;
                                if (c.agrees) return (void)f.done.insert(p.value);
                                f.syncs[p.value]->Pull(h, c.holders, c.majority, f.states[p.value],
                                                       [&, p](Host&, const Status& pulled) {
                                                         f.pull_status[p.value] = pulled;
                                                         f.done.insert(p.value);
                                                       });
                                asked = RequestTargets(f.net.host(p));
                              });
  }
  ASSERT_TRUE(f.net.Run([&] { return f.done.size() == 5; }));
  EXPECT_FALSE(f.comparisons[3].agrees);
  EXPECT_EQ(f.comparisons[3].holders, (std::vector<PeerId>{PeerId(0), PeerId(1), PeerId(2), PeerId(4)}));
  EXPECT_TRUE(f.comparisons[0].agrees);
  ASSERT_TRUE(f.pull_status[3].ok()) << f.pull_status[3].ToString();
  EXPECT_EQ(asked, (std::set<uint32_t>{0, 1, 2, 4}));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(std::memcmp(f.states[i].data(), f.states[0].data(), 4000), 0) << "peer " << i;
  }
  EXPECT_EQ(f.net.Counter(PeerId(3), "state_sync.pulled_chunks"), 63);  // ceil(1000 / 16)
}

TEST(StateSync, HolderCrashMidPullHandsItsChunksToTheOthers) {
  for (bool notify : {true, false}) {
    Fixture f(4, 500);
    f.states[0][0] = 99;
    const std::vector<PeerId> members = {PeerId(0), PeerId(1), PeerId(2), PeerId(3)};
    f.net.CrashBefore(PeerId(2), 20, notify);
    f.CompareAndRepair(members, 7);
    ASSERT_TRUE(f.pull_status[0].ok()) << f.pull_status[0].ToString();
    EXPECT_EQ(f.states[0], f.states[1]) << (notify ? "peer-down" : "timeout");
  }
}

// Every Compare has its own timeout: the timer of the previous step's
// compare (steps are often shorter than the timeout) must not end the
// current one with the few digests that came so far. It did: a peer
// then "agreed" with itself alone, or took a minority of the answers for
// the group's.
TEST(StateSync, AnEarlierCompareTimerDoesNotEndTheCurrentCompare) {
  Fixture f(3, 10);
  const std::vector<PeerId> members = {PeerId(0), PeerId(1), PeerId(2)};
  f.CompareAndRepair(members, 1);
  testing::FakeHost& host0 = f.net.host(PeerId(0));
  ASSERT_FALSE(host0.timers.empty());
  const TimerId first = host0.timers.front();  // step 1's compare timer, still pending
  f.states[0][4] = 7;  // peer 0 alone holds another state at step 2
  std::optional<Comparison> got;
  f.syncs[0]->Compare(host0, 2, members, HashState(f.states[0]),
                      [&](Host&, const Status& s, const Comparison& c) {
                        ASSERT_TRUE(s.ok()) << s.ToString();
                        got = c;
                      });
  EXPECT_TRUE(f.syncs[0]->OnTimer(host0, first));
  EXPECT_FALSE(got.has_value()) << "ended by step 1's timer with " << got->answers << " answer(s)";
  for (int i = 1; i < 3; ++i) {
    f.syncs[i]->Compare(f.net.host(PeerId(i)), 2, members, HashState(f.states[i]),
                        [](Host&, const Status&, const Comparison&) {});
  }
  f.net.Drain();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->answers, 3u);
  EXPECT_FALSE(got->agrees);
  EXPECT_EQ(got->holders, (std::vector<PeerId>{PeerId(1), PeerId(2)}));
}

TEST(StateSync, NoMajorityIsReportedNotGuessed) {
  Fixture f(2, 10);
  f.states[1][3] = 42;
  std::vector<Status> got(2);
  int calls = 0;
  for (int i = 0; i < 2; ++i) {
    f.syncs[i]->Compare(f.net.host(PeerId(i)), 1, {PeerId(0), PeerId(1)}, HashState(f.states[i]),
                        [&, i](Host&, const Status& s, const Comparison&) {
                          got[i] = s;
                          ++calls;
                        });
  }
  f.net.Drain();
  ASSERT_EQ(calls, 2);
  EXPECT_EQ(got[0].code(), StatusCode::kAborted);
}

TEST(StateSync, RequestsOutsideTheServedStateAreRefused) {
  Fixture f(2, 10);
  f.syncs[0]->OnMessage(f.net.host(PeerId(0)), PeerId(1),
                        EncodeStateRequest(OpTag{}, StateRange{1, 8, 5}));
  f.syncs[0]->OnMessage(f.net.host(PeerId(0)), PeerId(1),
                        EncodeStateRequest(OpTag{}, StateRange{2, 0, 17}));
  EXPECT_EQ(f.net.host(PeerId(0)).bad_peers.size(), 2u);
  EXPECT_TRUE(f.net.host(PeerId(0)).sent.empty());
  // An unsolicited chunk is dropped, not written anywhere.
  const std::vector<float> junk = {1, 2};
  f.syncs[1]->OnMessage(f.net.host(PeerId(1)), PeerId(0),
                        EncodeStateChunk(OpTag{}, StateRange{5, 0, 2}, junk));
  EXPECT_EQ(f.net.Counter(PeerId(1), "state_sync.dropped_unexpected"), 1);
  EXPECT_EQ(f.states[1], SharedState(10));
}

TEST(StateSync, LateJoinerPullsTheStateThenJoinsTheNextAllReduce) {
  Fixture f(3, 100);
  // Peer 3 joins with an empty state.
  f.net.AddJoiner(PeerId(3), {PeerId(0), PeerId(1), PeerId(2)}, 0);
  f.syncs.push_back(std::make_unique<StateSync>(SyncOptions(), PeerId(3)));
  f.states.push_back(std::vector<float>(100, 0.0f));
  f.net.AttachSync(PeerId(3), f.syncs[3].get());
  f.syncs[3]->Serve(f.states[3]);
  int agreed = 0;
  auto count = [&agreed](Host&, const Status& s) { agreed += s.ok(); };
  f.net.group(PeerId(3)).AgreeMembership(f.net.host(PeerId(3)), count);
  f.net.Drain();
  for (int i = 0; i < 3; ++i) f.net.group(PeerId(i)).AgreeMembership(f.net.host(PeerId(i)), count);
  f.net.Drain();
  ASSERT_EQ(agreed, 4);
  const std::vector<PeerId> members = f.net.group(PeerId(0)).members();
  ASSERT_EQ(members.size(), 4u);
  f.CompareAndRepair(members, 2);
  ASSERT_TRUE(f.pull_status[3].ok());
  EXPECT_EQ(f.states[3], f.states[0]);
  // Next step: the four (equal) states sum to four times the state.
  int reduced = 0;
  for (PeerId p : members) {
    f.net.group(p).AllReduce(f.net.host(p), f.states[p.value], ReduceOp::kSum,
                             [&reduced](Host&, const Status& s) { reduced += s.ok(); });
  }
  f.net.Drain();
  ASSERT_EQ(reduced, 4);
  for (PeerId p : members) {
    for (size_t j = 0; j < 100; ++j) ASSERT_EQ(f.states[p.value][j], 4 * SharedState(100)[j]);
  }
}

// A restarted peer knows neither the step nor the state: it learns both
// from the digests the members compare with it among them (step 37, beyond
// the window of a peer that compared nothing yet), takes the digest held
// by a strict majority of them (one member diverged), pulls it from its
// holders, and its Publish completes the members' comparisons at once.
// Hashes of an older step than asked for do not count: kAborted at the
// timeout.
TEST(StateSync, JoinerLearnsTheStepAndTheMajorityStateFromTheMembersHashes) {
  Fixture f(4, 100);
  f.states[2][7] = -1.0f;  // member 2 diverged
  f.net.AddJoiner(PeerId(4), {PeerId(0), PeerId(1), PeerId(2), PeerId(3)}, 5);
  f.syncs.push_back(std::make_unique<StateSync>(SyncOptions(), PeerId(4)));
  f.states.push_back(std::vector<float>(100, 0.0f));
  f.net.AttachSync(PeerId(4), f.syncs[4].get());
  f.syncs[4]->Serve(f.states[4]);
  auto ignore = [](Host&, const Status&) {};
  f.net.group(PeerId(4)).AgreeMembership(f.net.host(PeerId(4)), ignore);
  f.net.Drain();
  for (int i = 0; i < 4; ++i) f.net.group(PeerId(i)).AgreeMembership(f.net.host(PeerId(i)), ignore);
  f.net.Drain();
  const std::vector<PeerId> members = f.net.group(PeerId(0)).members();
  ASSERT_EQ(members.size(), 5u);
  std::vector<int> compared(5, 0);
  for (int i = 0; i < 4; ++i) {
    f.syncs[i]->Compare(f.net.host(PeerId(i)), 37, members, HashState(f.states[i]),
                        [&compared, i](Host&, const Status& s, const Comparison& c) {
                          EXPECT_TRUE(s.ok()) << s.ToString();
                          EXPECT_EQ(c.answers, 5u) << "peer " << i;
                          ++compared[i];
                        });
  }
  f.net.Drain();  // the joiner's digest is still missing
  EXPECT_EQ(compared, std::vector<int>(5, 0));
  Comparison learned;
  Status pulled = Status::Internal("not pulled");
  f.syncs[4]->AwaitMajority(
      f.net.host(PeerId(4)), members, 0, [&](Host& h, const Status& s, const Comparison& c) {
        ASSERT_TRUE(s.ok()) << s.ToString();
        learned = c;
        f.syncs[4]->Pull(h, c.holders, c.majority, f.states[4], [&, c](Host& h2, const Status& p) {
          pulled = p;
          f.syncs[4]->Publish(h2, c.step, members, c.majority);
        });
      });
  f.net.Drain();  // no timer fired: everything came from the digests
  EXPECT_EQ(learned.step, 37u);
  EXPECT_EQ(learned.holders, (std::vector<PeerId>{PeerId(0), PeerId(1), PeerId(3)}));
  ASSERT_TRUE(pulled.ok()) << pulled.ToString();
  EXPECT_EQ(f.states[4], f.states[0]);
  EXPECT_EQ(compared, (std::vector<int>{1, 1, 1, 1, 0}));

  Status late = Status::Ok();
  f.syncs[4]->AwaitMajority(f.net.host(PeerId(4)), members, 38,
                            [&late](Host&, const Status& s, const Comparison&) { late = s; });
  ASSERT_TRUE(f.net.Run([&] { return !late.ok(); }));
  EXPECT_EQ(late.code(), StatusCode::kAborted);
}

// An insider announces a far-future step (a digest for step 1,000,000, and
// one for a step just past the window) to everybody before the group
// compares step 37. Before, a peer without a state of its own learned the
// step from whoever claimed the newest: the joiner's window jumped to
// 1,000,000 and dropped the members' digests of 37 (after its timeout it
// took the liar's lone digest for the majority and its pull failed), and
// a founder that had not compared yet waited out its timeout at every
// compare. Now each sender's claims only evict its own digests: the
// members' comparisons end at once with all five answers, and the joiner
// learns step 37 from the honest majority with no timer firing.
TEST(StateSync, ABogusFutureStepFromOneMemberDisturbsNeitherTheJoinerNorTheMembers) {
  Fixture f(4, 100);
  f.net.AddJoiner(PeerId(4), {PeerId(0), PeerId(1), PeerId(2), PeerId(3)}, 5);
  f.syncs.push_back(std::make_unique<StateSync>(SyncOptions(), PeerId(4)));
  f.states.push_back(std::vector<float>(100, 0.0f));
  f.net.AttachSync(PeerId(4), f.syncs[4].get());
  f.syncs[4]->Serve(f.states[4]);
  auto ignore = [](Host&, const Status&) {};
  f.net.group(PeerId(4)).AgreeMembership(f.net.host(PeerId(4)), ignore);
  f.net.Drain();
  for (int i = 0; i < 4; ++i) f.net.group(PeerId(i)).AgreeMembership(f.net.host(PeerId(i)), ignore);
  f.net.Drain();
  const std::vector<PeerId> members = f.net.group(PeerId(0)).members();
  ASSERT_EQ(members.size(), 5u);
  StateDigest bogus{};
  bogus.fill(0xab);
  for (PeerId to : members) {
    if (to == PeerId(3)) continue;
    f.net.host(PeerId(3)).Send(to, EncodeStateHash(OpTag{0, 1'000'000}, bogus));
    f.net.host(PeerId(3)).Send(to, EncodeStateHash(OpTag{0, 37 + 5}, bogus));
  }
  f.net.Drain();
  std::vector<int> agreed(4, 0);
  for (int i = 0; i < 4; ++i) {
    f.syncs[i]->Compare(f.net.host(PeerId(i)), 37, members, HashState(f.states[i]),
                        [&agreed, i](Host&, const Status& s, const Comparison& c) {
                          EXPECT_TRUE(s.ok()) << s.ToString();
                          EXPECT_EQ(c.answers, 5u) << "peer " << i;
                          agreed[i] += c.agrees;
                        });
  }
  Comparison learned;
  Status pulled = Status::Internal("not pulled");
  f.syncs[4]->AwaitMajority(
      f.net.host(PeerId(4)), members, 0, [&](Host& h, const Status& s, const Comparison& c) {
        ASSERT_TRUE(s.ok()) << s.ToString();
        learned = c;
        f.syncs[4]->Pull(h, c.holders, c.majority, f.states[4], [&, c](Host& h2, const Status& p) {
          pulled = p;
          f.syncs[4]->Publish(h2, c.step, members, c.majority);
        });
      });
  f.net.Drain();  // no timer fired
  EXPECT_EQ(learned.step, 37u);
  EXPECT_EQ(learned.majority, HashState(f.states[0]));
  EXPECT_GE(learned.holders.size(), 3u);  // a strict majority of the 4 others, liar or not
  ASSERT_TRUE(pulled.ok()) << pulled.ToString();
  EXPECT_EQ(f.states[4], f.states[0]);
  EXPECT_EQ(agreed, std::vector<int>(4, 1));
  // The members had not compared before step 37 either (founders): their
  // windows were not moved. Now that they have, a claim beyond theirs is
  // dropped on arrival.
  EXPECT_EQ(f.net.Counter(PeerId(0), "state_sync.dropped_beyond_window"), 0);
  f.net.host(PeerId(3)).Send(PeerId(0), EncodeStateHash(OpTag{0, 2'000'000}, bogus));
  f.net.Drain();
  EXPECT_EQ(f.net.Counter(PeerId(0), "state_sync.dropped_beyond_window"), 1);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(f.net.host(PeerId(i)).bad_peers.empty());
}

// After the timeout (member 1 silent, as if dead), the joiner counts the
// members that answered at all: the liar's step 1,000,000 is held by 1 of
// the 3 that answered, step 37 by 2 of 3; it takes 37. Before, it took
// the newest step that had any answer: the liar's.
TEST(StateSync, AfterTheTimeoutALoneFutureClaimIsNoMajority) {
  Fixture f(4, 100);
  f.net.AddJoiner(PeerId(4), {PeerId(0), PeerId(1), PeerId(2), PeerId(3)}, 5);
  f.syncs.push_back(std::make_unique<StateSync>(SyncOptions(), PeerId(4)));
  f.states.push_back(std::vector<float>(100, 0.0f));
  f.net.AttachSync(PeerId(4), f.syncs[4].get());
  f.syncs[4]->Serve(f.states[4]);
  auto ignore = [](Host&, const Status&) {};
  f.net.group(PeerId(4)).AgreeMembership(f.net.host(PeerId(4)), ignore);
  f.net.Drain();
  for (int i = 0; i < 4; ++i) f.net.group(PeerId(i)).AgreeMembership(f.net.host(PeerId(i)), ignore);
  f.net.Drain();
  const std::vector<PeerId> members = f.net.group(PeerId(0)).members();
  ASSERT_EQ(members.size(), 5u);
  StateDigest bogus{};
  bogus.fill(0xcd);
  f.net.host(PeerId(3)).Send(PeerId(4), EncodeStateHash(OpTag{0, 1'000'000}, bogus));
  for (int i : {0, 2}) {
    f.syncs[i]->Compare(f.net.host(PeerId(i)), 37, members, HashState(f.states[i]),
                        [](Host&, const Status&, const Comparison&) {});
  }
  std::optional<Comparison> learned;
  Status status = Status::Internal("no answer");
  f.syncs[4]->AwaitMajority(f.net.host(PeerId(4)), members, 0,
                            [&](Host&, const Status& s, const Comparison& c) {
                              status = s;
                              learned = c;
                            });
  f.net.Drain();
  EXPECT_FALSE(learned.has_value()) << "decided before the timeout";
  ASSERT_TRUE(f.net.Run([&] { return learned.has_value(); }));
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(learned->step, 37u);
  EXPECT_EQ(learned->holders, (std::vector<PeerId>{PeerId(0), PeerId(2)}));
  EXPECT_EQ(learned->majority, HashState(f.states[0]));
}

}  // namespace
}  // namespace murmur::collective
