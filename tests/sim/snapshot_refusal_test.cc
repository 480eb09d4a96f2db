// Which runs may snapshot (sim.snapshot_every_s, `murmur run --resume`):
// a run whose [robust] rule is a Python rule ("py:...", here registered
// from C++ the way murmur.register_rule does) is refused before it starts,
// with an error that says why -- the rule's own state, like this one's
// call counter, is out of a snapshot's reach -- while the same run with a
// built-in rule snapshots and finishes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>

#include "murmur/core/config.h"
#include "murmur/experiment/run_snapshot.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/robust/external_rules.h"

namespace murmur {
namespace {

RunConfig DpsgdWithRule(const std::string& rule) {
  Config config = Config::FromString(R"(
peers = 6
[data]
dataset = "synthetic"
synthetic_train = 600
synthetic_test = 200
[model]
kind = "logreg"
[protocol]
kind = "dpsgd"
rounds = 4
local_steps = 1
topology = "ring"
[eval]
every = 2
)",
                                     "snapshot_refusal_test.toml")
                      .value();
  EXPECT_TRUE(config.Set("robust.rule=\"" + rule + "\"").ok());
  return ReadRunConfig(config).value();
}

RunSnapshots SnapshotsInto(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return RunSnapshots{.dir = dir,
                      .every_s = 0.01,
                      .metrics_bytes = [] { return std::pair<uint64_t, uint64_t>(0, 0); }};
}

TEST(SnapshotRefusal, PythonRuleIsRefusedSayingItsStateIsOutOfReach) {
  std::atomic<int> calls = 0;  // state a snapshot could not save
  ASSERT_TRUE(RegisterExternalRule(
                  "py:counting",
                  ExternalRule{.aggregate =
                                   [&calls](const CheckedInput& in, std::span<float> out) {
                                     ++calls;
                                     std::copy(in.vectors[0].begin(), in.vectors[0].end(),
                                               out.begin());
                                     return Status::Ok();
                                   }})
                  .ok());
  const std::string dir = ::testing::TempDir() + "/snapshot_refusal_py";
  const Result<RunSummary> refused =
      RunExperiment(DpsgdWithRule("py:counting"), RunObserver{}, SnapshotsInto(dir));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("robust.rule is a Python rule"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(calls.load(), 0);  // refused before the first round
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + kSnapshotFileName));
  // Without snapshots the rule runs.
  ASSERT_TRUE(RunExperiment(DpsgdWithRule("py:counting"), RunObserver{}).ok());
  EXPECT_GT(calls.load(), 0);
  UnregisterExternalRule("py:counting");
}

TEST(SnapshotRefusal, BuiltInRuleSnapshotsAndFinishes) {
  const std::string dir = ::testing::TempDir() + "/snapshot_refusal_median";
  const Result<RunSummary> run =
      RunExperiment(DpsgdWithRule("median"), RunObserver{}, SnapshotsInto(dir));
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->rows.back().round, 4);
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + kSnapshotFileName));
}

}  // namespace
}  // namespace murmur
