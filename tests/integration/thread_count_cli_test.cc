// `murmur run --threads N` of shipped examples: metrics.jsonl is
// byte-identical for 1, 2 and 4 threads (compute batches and evaluation run
// on the pool; everything they feed back is applied in event order), and a
// different seed gives different bytes, so the comparison can fail.
#include <gtest/gtest.h>

#include <string>

#include "testing/cli_runner.h"

namespace {

using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;
using murmur::testing::TempPath;

const std::string kSource = MURMUR_SOURCE_DIR;

// metrics.jsonl of `example` run for 2 rounds with `threads` threads (500
// test images, so a run is about a second of CPU).
std::string Metrics(const std::string& example, int threads, int seed) {
  const std::string out =
      TempPath(example + "-t" + std::to_string(threads) + "-s" + std::to_string(seed));
  const murmur::testing::CliOutcome o =
      RunMurmur("run " + kSource + "/examples/" + example + ".toml --threads " +
                std::to_string(threads) + " --seed " + std::to_string(seed) +
                " --set protocol.rounds=2 --set eval.test_samples=500 --out " + out);
  EXPECT_EQ(o.exit_code, 0) << example << ": " << o.output;
  return ReadFile(out + "/metrics.jsonl");
}

TEST(MurmurRunThreads, ExamplesWriteByteIdenticalMetricsWithOneTwoAndFourThreads) {
  // Asynchronous gossip with heterogeneous devices and latency, churn (lost
  // messages, timeouts) and epidemic push: timers and compute batches of
  // many sizes on the event path.
  std::string gossip;
  for (const char* example : {"gossip", "churn", "epidemic"}) {
    const std::string one = Metrics(example, 1, 1);
    ASSERT_FALSE(one.empty()) << example;
    EXPECT_EQ(one, Metrics(example, 2, 1)) << example;
    EXPECT_EQ(one, Metrics(example, 4, 1)) << example;
    if (gossip.empty()) gossip = one;
  }
  // The comparison can fail: another seed gives other bytes.
  EXPECT_NE(gossip, Metrics("gossip", 2, 2));
}

}  // namespace
