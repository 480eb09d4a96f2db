// The collective layer over the real runtime: several NetHosts in this
// process on 127.0.0.1 (authenticated TCP, encrypted and plain), each running the
// AllReduceJob node that the simulator test runs. Exact sums; a peer that
// leaves in the middle of an all-reduce aborts it on the survivors, who
// retry among themselves and get their exact sum.
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "murmur/collective/allreduce_job.h"
#include "murmur/runtime/net_host.h"

namespace murmur::collective {
namespace {

using net::NetHost;
using net::NetOptions;
using net::NetSecurity;

float Input(int peer, int iteration, size_t j) {
  return static_cast<float>(peer * 100 + iteration * 10 + static_cast<int>(j % 1000));
}

struct PeerRun {
  std::map<int, Status> status;
  std::map<int, std::vector<float>> result;
  std::map<int, std::vector<PeerId>> members;
  Status run;
};

// Runs `n` peers; peer `leaver` (if >= 0) leaves `leave_after` events into
// its second iteration.
std::vector<PeerRun> RunPeers(int n, int iterations, size_t length, int leaver,
                              int leave_after, bool plain, uint8_t streams) {
  net::NetworkKey psk{};
  psk.fill(7);
  std::vector<NullMetricsSink> sinks(n);
  std::vector<std::unique_ptr<NetHost>> hosts;
  for (int i = 0; i < n; ++i) {
    NetOptions o;
    o.self = PeerId(i);
    o.num_slots = static_cast<uint32_t>(n);
    o.start_timeout = Duration::Seconds(30);
    o.backoff_min = Duration::Seconds(0.02);
    o.streams = streams;
    if (i > 0) o.bootstrap = {hosts[0]->listen_address()};
    auto h = NetHost::Create(o, NetSecurity{.identity = net::Identity::Generate(),
                                            .network_key = psk,
                                            .plain = plain},
                             sinks[i]);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (!h.ok()) return {};
    hosts.push_back(std::move(h).value());
  }
  std::vector<PeerId> members;
  for (int i = 0; i < n; ++i) members.push_back(PeerId(i));
  std::vector<PeerRun> runs(n);
  std::vector<std::unique_ptr<AllReduceJob>> jobs;
  CollectiveOptions co;
  co.chunk_floats = 4096;
  co.timeout = Duration::Seconds(5);
  for (int i = 0; i < n; ++i) {
    AllReduceJobOptions job;
    job.iterations = iterations;
    job.length = length;
    job.fill = [i](int k, std::span<float> b) {
      for (size_t j = 0; j < b.size(); ++j) b[j] = Input(i, k, j);
    };
    PeerRun& run = runs[i];
    job.on_result = [&run](Host&, int k, const Status& s, std::span<const float> r,
                           const std::vector<PeerId>& m) {
      run.status[k] = s;
      run.result[k].assign(r.begin(), r.end());
      run.members[k] = m;
    };
    jobs.push_back(std::make_unique<AllReduceJob>(
        job, std::make_unique<CollectiveGroup>(co, PeerId(i), members)));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      int events_in_second = 0;
      runs[i].run = hosts[i]->Run(*jobs[i], [&, i] {
        if (i == leaver && jobs[i]->completed() >= 1) return ++events_in_second > leave_after;
        return jobs[i]->finished();
      });
    });
  }
  for (auto& t : threads) t.join();
  return runs;
}

std::vector<float> Sum(int iteration, const std::vector<int>& peers, size_t length) {
  std::vector<float> s(length, 0);
  for (int p : peers) {
    for (size_t j = 0; j < length; ++j) s[j] += Input(p, iteration, j);
  }
  return s;
}

void ExpectExactSums(bool plain, uint8_t streams = 1) {
  const size_t length = 100'000;
  const std::vector<PeerRun> runs = RunPeers(4, 3, length, -1, 0, plain, streams);
  ASSERT_EQ(runs.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(runs[i].run.ok()) << runs[i].run.ToString();
    for (int k = 0; k < 3; ++k) {
      ASSERT_TRUE(runs[i].status.at(k).ok()) << runs[i].status.at(k).ToString();
      EXPECT_EQ(runs[i].result.at(k), Sum(k, {0, 1, 2, 3}, length)) << "peer " << i;
    }
  }
}

void ExpectSurvivorsSum(bool plain, uint8_t streams = 1) {
  const size_t length = 50'000;
  const std::vector<PeerRun> runs =
      RunPeers(4, 3, length, /*leaver=*/2, /*leave_after=*/3, plain, streams);
  ASSERT_EQ(runs.size(), 4u);
  const std::vector<int> survivors = {0, 1, 3};
  for (int i : survivors) {
    ASSERT_TRUE(runs[i].status.at(0).ok());
    EXPECT_EQ(runs[i].result.at(0), Sum(0, {0, 1, 2, 3}, length));
    for (int k = 1; k < 3; ++k) {
      ASSERT_TRUE(runs[i].status.at(k).ok()) << runs[i].status.at(k).ToString();
      EXPECT_EQ(runs[i].members.at(k), (std::vector<PeerId>{PeerId(0), PeerId(1), PeerId(3)}));
      EXPECT_EQ(runs[i].result.at(k), Sum(k, survivors, length)) << "peer " << i << " it " << k;
    }
  }
}

TEST(CollectiveLoopback, FourNetHostsAllReduceExactly) { ExpectExactSums(false); }

// Plain sessions (authenticated, not encrypted): the same exact sums.
TEST(CollectiveLoopback, FourPlainNetHostsAllReduceExactly) { ExpectExactSums(true); }

TEST(CollectiveLoopback, PeerLeavingMidAllReduceLeavesSurvivorsWithTheirSum) {
  ExpectSurvivorsSum(false);
}

TEST(CollectiveLoopback, PlainPeerLeavingMidAllReduceLeavesSurvivorsWithTheirSum) {
  ExpectSurvivorsSum(true);
}

// Three streams per link (a control stream, two data streams taking
// turns): the ring's messages keep their order, so the same exact sums,
// also when a peer leaves (its Bye read in turn after its chunks).
TEST(CollectiveLoopback, FourNetHostsOverThreeStreamsPerLinkAllReduceExactly) {
  ExpectExactSums(false, 3);
}

TEST(CollectiveLoopback, PeerLeavingMidAllReduceOverThreeStreamsPerLinkLeavesTheSurvivorsSum) {
  ExpectSurvivorsSum(false, 3);
}

}  // namespace
}  // namespace murmur::collective
