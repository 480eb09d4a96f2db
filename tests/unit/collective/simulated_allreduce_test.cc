// AllReduceJob in the project's simulator (src/sim): modeled links, a
// crash-stop of a seeded peer at a grid of virtual instants, detection by
// timeouts alone (the simulator raises no OnPeerDown). Every peer still
// running ends every iteration with bit-identical results, each the exact
// sum over all peers or over the survivors.
#include <gtest/gtest.h>

#include <map>

#include "murmur/collective/allreduce_job.h"
#include "murmur/core/thread_pool.h"
#include "murmur/sim/simulator.h"

namespace murmur::collective {
namespace {

constexpr int kPeers = 5;
constexpr int kIterations = 3;
constexpr size_t kLength = 301;

float Input(int peer, int iteration, size_t j) {
  return static_cast<float>(peer * 1000 + iteration * 100 + static_cast<int>(j % 50));
}

struct SimOutcome {
  std::map<int, std::map<int, std::vector<float>>> results;  // peer -> iteration -> result
  std::map<int, std::map<int, StatusCode>> codes;
  std::vector<bool> online;
  SimTime end;
};

SimOutcome Simulate(double crash_at_s, uint64_t seed) {
  SimConfig config;
  config.link = LinkConfig{.latency_s = 0.005, .bandwidth_mbps = 100};
  if (crash_at_s >= 0) config.crash = CrashConfig{.fraction = 1.0 / kPeers, .at_s = crash_at_s};
  SimOutcome run;
  std::vector<PeerId> members;
  for (int i = 0; i < kPeers; ++i) members.push_back(PeerId(i));
  std::vector<std::unique_ptr<Node>> nodes;
  NullMetricsSink sink;
  std::vector<MetricsSink*> sinks(kPeers, &sink);
  CollectiveOptions o;
  o.chunk_floats = 16;
  o.timeout = Duration::Seconds(0.5);
  for (int i = 0; i < kPeers; ++i) {
    AllReduceJobOptions job;
    job.iterations = kIterations;
    job.length = kLength;
    job.fill = [i](int k, std::span<float> b) {
      for (size_t j = 0; j < b.size(); ++j) b[j] = Input(i, k, j);
    };
    job.on_result = [&run, i](Host&, int k, const Status& s, std::span<const float> r,
                              const std::vector<PeerId>&) {
      run.codes[i][k] = s.code();
      run.results[i][k].assign(r.begin(), r.end());
    };
    nodes.push_back(std::make_unique<AllReduceJob>(
        job, std::make_unique<CollectiveGroup>(o, PeerId(i), members)));
  }
  ThreadPool pool(1);
  Simulator sim(config, seed, std::move(nodes), sinks, pool);
  sim.Run(nullptr);
  for (int i = 0; i < kPeers; ++i) run.online.push_back(sim.online(PeerId(i)));
  run.end = sim.now();
  return run;
}

std::vector<float> Sum(int iteration, const std::vector<int>& peers) {
  std::vector<float> s(kLength, 0);
  for (int p : peers) {
    for (size_t j = 0; j < kLength; ++j) s[j] += Input(p, iteration, j);
  }
  return s;
}

TEST(SimulatedAllReduce, CleanRunGivesTheExactSumEveryIteration) {
  const SimOutcome run = Simulate(-1, 1);
  for (int i = 0; i < kPeers; ++i) {
    for (int k = 0; k < kIterations; ++k) {
      ASSERT_EQ(run.codes.at(i).at(k), StatusCode::kOk);
      EXPECT_EQ(run.results.at(i).at(k), Sum(k, {0, 1, 2, 3, 4}));
    }
  }
}

TEST(SimulatedAllReduce, SurvivorsAgreeBitForBitWhateverTheCrashInstant) {
  const double clean_end = Simulate(-1, 1).end.seconds();
  ASSERT_GT(clean_end, 0);
  int changed_membership = 0;
  for (int step = 0; step < 40; ++step) {
    const double at = clean_end * step / 40.0;
    const uint64_t seed = 100 + step;
    const SimOutcome run = Simulate(at, seed);
    std::vector<int> survivors, all = {0, 1, 2, 3, 4};
    for (int i = 0; i < kPeers; ++i) {
      if (run.online[i]) survivors.push_back(i);
    }
    ASSERT_EQ(survivors.size(), size_t{kPeers - 1}) << "crash at " << at;
    for (int k = 0; k < kIterations; ++k) {
      const std::vector<float>& first = run.results.at(survivors[0]).at(k);
      for (int i : survivors) {
        ASSERT_EQ(run.codes.at(i).at(k), StatusCode::kOk) << "crash at " << at << " peer " << i;
        ASSERT_EQ(run.results.at(i).at(k), first) << "crash at " << at << " iteration " << k;
      }
      const bool over_all = first == Sum(k, all);
      const bool over_survivors = first == Sum(k, survivors);
      EXPECT_TRUE(over_all || over_survivors) << "crash at " << at << " iteration " << k;
      changed_membership += over_survivors;
    }
  }
  EXPECT_GT(changed_membership, 0);
}

}  // namespace
}  // namespace murmur::collective
