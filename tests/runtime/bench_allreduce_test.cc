// `murmur bench allreduce`: real `murmur` processes on 127.0.0.1 run the
// ring all-reduce, encrypted and plain; the JSON line has the documented
// fields, consistent with each other, and the last result's sum is the
// one computed here by hand from the bench's inputs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testing/cli_runner.h"

namespace murmur {
namespace {

using testing::RunMurmur;

// The bench's inputs (tools/bench_rank.cc): rank r, iteration k, element
// j holds (r + 1) + k + (j & 7); the sum over n ranks of the last
// iteration (k = reps), summed over the `floats` elements.
double ExpectedResultSum(int n, int reps, size_t floats) {
  double sum = 0;
  for (size_t j = 0; j < floats; ++j) {
    for (int r = 0; r < n; ++r) sum += (r + 1) + reps + static_cast<double>(j & 7);
  }
  return sum;
}

nlohmann::json Bench(const std::string& args) {
  const testing::CliOutcome out = RunMurmur("bench allreduce " + args, testing::Stderr::kApart);
  EXPECT_EQ(out.exit_code, 0) << out.output << out.error;
  const nlohmann::json line = nlohmann::json::parse(out.output, nullptr, false);
  EXPECT_TRUE(line.is_object()) << out.output;
  return line.is_object() ? line : nlohmann::json::object();
}

void ExpectConsistent(const nlohmann::json& j, int procs, double bytes, bool plain, int reps) {
  ASSERT_TRUE(j.contains("busbw_gbps") && j.contains("algbw_gbps") && j.contains("latency_us"))
      << j.dump();
  EXPECT_EQ(j["procs"], procs);
  EXPECT_EQ(j["bytes"], bytes);
  EXPECT_DOUBLE_EQ(j["mib"].get<double>(), bytes / 1048576.0);
  EXPECT_EQ(j["plain"], plain);
  EXPECT_EQ(j["verified"], true);
  const double latency = j["latency_us"];
  EXPECT_GT(latency, 0);
  EXPECT_LE(j["latency_min_us"].get<double>(), latency);
  EXPECT_NEAR(j["algbw_gbps"].get<double>(), bytes / (latency * 1e-6) / 1e9, 1e-9);
  EXPECT_NEAR(j["busbw_gbps"].get<double>(),
              j["algbw_gbps"].get<double>() * 2 * (procs - 1) / procs, 1e-12);
  EXPECT_EQ(j["result_sum"].get<double>(),
            ExpectedResultSum(procs, reps, static_cast<size_t>(bytes) / 4));
  // Every rank links to every other; each end counts its own set-up.
  const int64_t shm_links = j["shm_links"];
  EXPECT_GE(shm_links, 0);
  EXPECT_LE(shm_links, procs * (procs - 1));
  EXPECT_EQ(j["transport"], shm_links == 0                     ? "tcp"
                            : shm_links == procs * (procs - 1) ? "shared-memory"
                                                               : "mixed");
}

TEST(BenchAllreduce, TwoPlainProcessesReportConsistentFiguresAndExactSums) {
  // 40,000 bytes over 1 KiB messages: many chunks per ring step.
  const nlohmann::json j = Bench("--procs 2 --bytes 40000 --reps 2 --chunk-kib 1 --plain");
  ExpectConsistent(j, 2, 40000, true, 2);
}

TEST(BenchAllreduce, ThreeEncryptedProcessesOfOneFloat) {
  const nlohmann::json j = Bench("--procs 3 --bytes 4 --reps 3");
  ExpectConsistent(j, 3, 4, false, 3);
}

TEST(BenchAllreduce, TcpKeepsEveryLinkOffSharedMemory) {
  const nlohmann::json j = Bench("--procs 2 --bytes 4096 --reps 2 --tcp");
  ExpectConsistent(j, 2, 4096, false, 2);
  EXPECT_EQ(j["transport"], "tcp");
  EXPECT_EQ(j["shm_links"], 0);
}

TEST(BenchAllreduce, BadArgumentsExitTwo) {
  EXPECT_EQ(RunMurmur("bench allreduce --procs 1").exit_code, 2);
  EXPECT_EQ(RunMurmur("bench allreduce --procs 2 --rank 5 --dir /tmp").exit_code, 2);
}

}  // namespace
}  // namespace murmur
