// `murmur run` with budgets and a target accuracy: a budget ends the run
// normally (exit 0, finished, a final row), sim.max_time_s stays a failure,
// and bad values exit 2 naming the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "testing/cli_runner.h"

namespace {

using Outcome = murmur::testing::CliOutcome;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;
using murmur::testing::TempPath;

// 4 D-PSGD peers on a ring, 6 rounds, evaluated every 2. The MLP
// 784-16-10 has 12,730 parameters, so a model message is 50,937 bytes
// (4 x 12,730 + a 17-byte header) and a round, 8 of them, 407,496 bytes;
// on 100 Mbit/s links with 5 ms latency a round lasts about 11.5 ms.
const char* kTiny =
    "--set data.dataset=synthetic --set data.synthetic_train=800 "
    "--set data.synthetic_test=200 --set peers=4 --set protocol.rounds=6 "
    "--set eval.every=2 --set model.hidden=[16]";

// The value of "key" in a summary.json (the text up to the next ',' or
// newline), or "" when absent.
std::string Field(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return "";
  const size_t from = at + key.size() + 4;
  return json.substr(from, json.find_first_of(",\n", from) - from);
}

// The last line of metrics.jsonl.
std::string LastLine(const std::string& text) {
  const size_t end = text.find_last_not_of('\n');
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - start);
}

TEST(MurmurRunBudget, ByteBudgetEndsTheRunCleanlyWithAFinalRow) {
  const std::string out = TempPath("bytes");
  Outcome o = RunMurmur(std::string("run ") + kTiny + " --set sim.budget_bytes=1000000 --out " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  const std::string summary = ReadFile(out + "/summary.json");
  EXPECT_EQ(Field(summary, "finished"), "true") << summary;
  EXPECT_EQ(Field(summary, "ended_by"), "\"byte_budget\"") << summary;
  EXPECT_EQ(Field(summary, "target_acc"), "null") << summary;
  EXPECT_EQ(Field(summary, "round_to_target"), "null") << summary;
  EXPECT_EQ(Field(summary, "time_to_target_s"), "null") << summary;
  EXPECT_EQ(Field(summary, "bytes_to_target"), "null") << summary;
  // 1,000,000 bytes are crossed during round 3 (814,992 -> 1,222,488), which
  // gets the last row although eval.every is 2.
  EXPECT_EQ(Field(summary, "round"), "3") << summary;
  EXPECT_EQ(Field(summary, "bytes_sent"), "1222488") << summary;
  const std::string last = LastLine(ReadFile(out + "/metrics.jsonl"));
  EXPECT_EQ(last.rfind("{\"round\":3,", 0), 0u) << last;
  EXPECT_NE(o.output.find("ended by sim.budget_bytes"), std::string::npos) << o.output;
  std::filesystem::remove_all(out);
}

TEST(MurmurRunBudget, TimeBudgetSucceedsWhereTheSameMaxTimeFails) {
  const std::string budget = TempPath("budget");
  const std::string limit = TempPath("limit");
  // 0.05 virtual seconds falls in round 5 (rounds end every ~11.5 ms).
  Outcome ok = RunMurmur(std::string("run ") + kTiny + " --set sim.budget_time_s=0.05 --out " +
                         budget);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  const std::string summary = ReadFile(budget + "/summary.json");
  EXPECT_EQ(Field(summary, "finished"), "true") << summary;
  EXPECT_EQ(Field(summary, "ended_by"), "\"time_budget\"") << summary;
  EXPECT_EQ(Field(summary, "round"), "5") << summary;
  EXPECT_GE(std::stod(Field(summary, "virtual_time_s")), 0.05);
  Outcome cut = RunMurmur(std::string("run ") + kTiny + " --set sim.max_time_s=0.05 --out " +
                          limit);
  EXPECT_EQ(cut.exit_code, 1) << cut.output;
  EXPECT_NE(cut.output.find("sim.max_time_s"), std::string::npos) << cut.output;
  const std::string cut_summary = ReadFile(limit + "/summary.json");
  EXPECT_EQ(Field(cut_summary, "finished"), "false") << cut_summary;
  EXPECT_EQ(Field(cut_summary, "ended_by"), "null") << cut_summary;
  std::filesystem::remove_all(budget);
  std::filesystem::remove_all(limit);
}

TEST(MurmurRunBudget, TargetRecordsWhenAndAtWhatCostItWasReached) {
  const std::string out = TempPath("target");
  Outcome o = RunMurmur(std::string("run ") + kTiny + " --set eval.target_acc=0 --out " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  const std::string summary = ReadFile(out + "/summary.json");
  EXPECT_EQ(Field(summary, "ended_by"), "\"target_acc\"") << summary;
  EXPECT_EQ(Field(summary, "round"), "0") << summary;
  EXPECT_EQ(Field(summary, "round_to_target"), "0") << summary;
  EXPECT_EQ(Field(summary, "bytes_to_target"), "0") << summary;
  EXPECT_EQ(Field(summary, "time_to_target_s"), "0.0") << summary;  // the initial models
  EXPECT_EQ(ReadFile(out + "/metrics.jsonl").find("\n"),
            ReadFile(out + "/metrics.jsonl").size() - 1);  // one row
  std::filesystem::remove_all(out);
}

TEST(MurmurRunBudget, BadBudgetExitsWithCodeTwoNamingTheKey) {
  for (const char* set : {"sim.budget_bytes=-5", "sim.budget_time_s=-1"}) {
    Outcome o = RunMurmur(std::string("run ") + kTiny + " --set " + set);
    EXPECT_EQ(o.exit_code, 2) << set << "\n" << o.output;
    const std::string key = std::string(set).substr(0, std::string(set).find('='));
    EXPECT_NE(o.output.find(key), std::string::npos) << o.output;
  }
}

// A sweep resumes a run that a budget ended before its last round: its
// summary says it finished, so it is not run again.
TEST(MurmurRunBudget, SweepKeepsARunEndedByItsBudget) {
  const std::string dir = murmur::testing::FreshTempDir("sweep");
  std::ofstream(dir + "/grid.toml")
      << "seeds = [1]\n[set]\npeers = 4\nthreads = 1\n\"data.dataset\" = \"synthetic\"\n"
         "\"data.synthetic_train\" = 400\n\"data.synthetic_test\" = 100\n"
         "\"model.hidden\" = [8]\n\"protocol.rounds\" = 4\n\"eval.every\" = 4\n"
         "[grid]\n\"sim.budget_bytes\" = [300000]\n";
  Outcome first = RunMurmur("sweep " + dir + "/grid.toml --out " + dir + "/out");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // 8 messages of 25,497 bytes a round: 300,000 bytes are crossed in round 2.
  for (const auto& run : std::filesystem::directory_iterator(dir + "/out/runs")) {
    const std::string log = ReadFile(run.path().string() + "/log.txt");
    EXPECT_NE(log.find("final: round 2"), std::string::npos) << log;
  }
  Outcome second = RunMurmur("sweep " + dir + "/grid.toml --out " + dir + "/out");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("(0 to run"), std::string::npos) << second.output;
  std::filesystem::remove_all(dir);
}

TEST(MurmurRunBudget, NetworkRunsRefuseSimulatorOnlyEndings) {
  const std::string dir = murmur::testing::FreshTempDir("launch");
  {
    std::ofstream config(dir + "/run.toml");
    config << "[data]\ndataset = \"synthetic\"\n";
  }
  for (const char* set : {"sim.budget_bytes=1000", "sim.budget_time_s=1", "eval.target_acc=0.5"}) {
    Outcome o = RunMurmur("launch 2 " + dir + "/run.toml --out " + dir + "/run --set " + set);
    EXPECT_EQ(o.exit_code, 2) << set << "\n" << o.output;
    const std::string key = std::string(set).substr(0, std::string(set).find('='));
    EXPECT_NE(o.output.find(key), std::string::npos) << o.output;
    EXPECT_NE(o.output.find("simulated runs only"), std::string::npos) << o.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/run")) << set;  // nothing started
  }
  // A [robust] rule that cannot hold on the topology is refused before any
  // peer starts (before: the peers exited before listening, exit 1).
  Outcome o = RunMurmur("launch 4 " + dir + "/run.toml --out " + dir + "/run --set "
                        "protocol.topology=ring --set robust.rule=median --set robust.f=2");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("murmur launch: robust.rule = \"median\" with robust.f = 2 needs at "
                          "least 5 inputs"),
            std::string::npos)
      << o.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/run"));
  std::filesystem::remove_all(dir);
}

}  // namespace
