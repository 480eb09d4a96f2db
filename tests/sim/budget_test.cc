// Budgets and a target accuracy end a run normally: sim.budget_bytes and
// sim.budget_time_s after the row of the round in progress when they are
// crossed, eval.target_acc at the first row that reaches it. Each budgeted
// run is checked against the same run without a budget, evaluated every
// round: a budget only decides where the run stops, so its rows are that
// run's rows, up to and including the round in progress at the crossing.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/sim_run.h"
#include "testing/scenario.h"
#include "testing/seeded_test.h"

namespace murmur {
namespace {

constexpr int64_t kRounds = 12;

// 8 D-PSGD peers on a ring, no loss, equal devices: every round every peer
// sends its model to its 2 neighbours, so each round costs the same bytes
// and all peers finish a round at about the same virtual time.
Config Base(const std::vector<std::string>& sets) {
  // FedAvg reads no topology: the ring is D-PSGD's and gossip's.
  const bool fedavg =
      std::find(sets.begin(), sets.end(), "protocol.kind=fedavg") != sets.end();
  Config config = Config::FromString(std::string(R"(
peers = 8
[data]
dataset = "synthetic"
synthetic_train = 1600
synthetic_test = 400
[model]
kind = "mlp"
hidden = [16]
[protocol]
kind = "dpsgd"
rounds = 12
local_steps = 2
)") + (fedavg ? "" : "topology = \"ring\"\n") + R"(
[eval]
every = 4
)", "budget_test.toml").value();
  for (const std::string& set : sets) EXPECT_TRUE(config.Set(set).ok()) << set;
  return config;
}

testing::ConfigRun RunWith(const std::vector<std::string>& sets) {
  testing::ConfigRun run = testing::RunFromConfig(Base(sets));
  EXPECT_TRUE(run.summary.ok()) << run.summary.status().ToString();
  return run;
}

// The run without budgets, with a row at every round (rows[r] is round r).
std::vector<EvalRow> EveryRound() {
  testing::ConfigRun run = RunWith({"eval.every=1"});
  EXPECT_EQ(run.summary->rows.size(), static_cast<size_t>(kRounds + 1));
  return run.summary->rows;
}

void ExpectSameRow(const EvalRow& got, const EvalRow& want) {
  EXPECT_EQ(MetricsWriter::ToJson(got), MetricsWriter::ToJson(want));
}

TEST(RunBudget, ByteBudgetEndsAfterTheRoundInProgressWithItsRow) {
  MURMUR_SEED_TRACE(1);
  const std::vector<EvalRow> full = EveryRound();
  // Halfway through round 6's traffic: the peers are sending their round-6
  // models when the budget is crossed, so round 6 is the last row.
  const uint64_t round_bytes = full[6].bytes_sent - full[5].bytes_sent;
  ASSERT_EQ(round_bytes, full[2].bytes_sent - full[1].bytes_sent);  // a fixed cost
  const uint64_t budget = full[5].bytes_sent + round_bytes / 2;
  testing::ConfigRun run = RunWith({"sim.budget_bytes=" + std::to_string(budget)});
  const RunSummary& s = *run.summary;
  EXPECT_EQ(s.ended_by, RunEnd::kByteBudget);
  EXPECT_TRUE(RunCompleted(s));
  EXPECT_FALSE(s.target_reached.has_value());
  ASSERT_EQ(s.rows.size(), 3u);  // rounds 0 and 4 as configured, then 6
  ExpectSameRow(s.rows[0], full[0]);
  ExpectSameRow(s.rows[1], full[4]);
  ExpectSameRow(s.rows[2], full[6]);
  EXPECT_GE(s.rows.back().bytes_sent, budget);
  EXPECT_LE(s.rows.back().bytes_sent, budget + round_bytes);
}

TEST(RunBudget, TimeBudgetEndsAfterTheRoundInProgressWithItsRow) {
  MURMUR_SEED_TRACE(1);
  const std::vector<EvalRow> full = EveryRound();
  const double budget = (full[2].time_s + full[3].time_s) / 2;  // during round 3
  testing::ConfigRun run = RunWith({"sim.budget_time_s=" + std::to_string(budget)});
  const RunSummary& s = *run.summary;
  EXPECT_EQ(s.ended_by, RunEnd::kTimeBudget);
  EXPECT_TRUE(RunCompleted(s));
  ASSERT_EQ(s.rows.size(), 2u);  // round 0, then round 3 (before the round-4 row)
  ExpectSameRow(s.rows[0], full[0]);
  ExpectSameRow(s.rows[1], full[3]);
  EXPECT_GE(s.rows.back().time_s, budget);
  EXPECT_LE(s.rows.back().time_s, budget + (full[3].time_s - full[2].time_s));
  EXPECT_GE(s.stats.now.seconds(), budget);
}

TEST(RunBudget, ZeroTargetEndsAtTheFirstEvaluation) {
  MURMUR_SEED_TRACE(1);
  testing::ConfigRun run = RunWith({"eval.target_acc=0.0"});
  const RunSummary& s = *run.summary;
  EXPECT_EQ(s.ended_by, RunEnd::kTargetAcc);
  EXPECT_TRUE(RunCompleted(s));
  ASSERT_EQ(s.rows.size(), 1u);
  EXPECT_EQ(s.rows[0].round, 0);
  ASSERT_TRUE(s.target_reached.has_value());
  EXPECT_EQ(s.target_reached->round, 0);
  EXPECT_EQ(s.target_reached->time_s, s.rows[0].time_s);
  EXPECT_EQ(s.target_reached->bytes_sent, 0u);  // nothing is sent before training
}

TEST(RunBudget, TargetEndsAtTheFirstRowThatReachesIt) {
  MURMUR_SEED_TRACE(1);
  const std::vector<EvalRow> full = RunWith({}).summary->rows;  // rounds 0, 4, 8, 12
  ASSERT_EQ(full.size(), 4u);
  // Round 8's accuracy, exactly (set on the read config: no decimal
  // round trip); the first row at or above it may come earlier.
  const double target = full[2].acc_mean;
  size_t first = 0;
  while (full[first].acc_mean < target) ++first;
  ASSERT_GT(first, 0u);  // round 0 (the initial models) is below round 8
  RunConfig config = ReadRunConfig(Base({})).value();
  config.eval.target_acc = target;
  const Result<RunSummary> s = RunExperiment(config, RunObserver{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->ended_by, RunEnd::kTargetAcc);
  EXPECT_TRUE(RunCompleted(*s));
  ASSERT_EQ(s->rows.size(), first + 1);
  for (size_t i = 0; i <= first; ++i) ExpectSameRow(s->rows[i], full[i]);
  ASSERT_TRUE(s->target_reached.has_value());
  EXPECT_EQ(s->target_reached->round, full[first].round);
  EXPECT_EQ(s->target_reached->time_s, full[first].time_s);
  EXPECT_EQ(s->target_reached->bytes_sent, full[first].bytes_sent);
  // The run stopped with that row: nothing after the target's round.
  EXPECT_LT(s->stats.now.seconds(), full[first + 1].time_s);
}

TEST(RunBudget, UnreachedTargetRunsEveryRoundAndChangesNoMetric) {
  MURMUR_SEED_TRACE(1);
  const testing::ConfigRun plain = RunWith({});
  const testing::ConfigRun targeted = RunWith({"eval.target_acc=1.0"});
  EXPECT_EQ(targeted.metrics_jsonl, plain.metrics_jsonl);
  EXPECT_EQ(targeted.summary->ended_by, RunEnd::kRounds);
  EXPECT_FALSE(targeted.summary->target_reached.has_value());
  EXPECT_EQ(targeted.summary->rows.back().round, kRounds);
  EXPECT_EQ(plain.summary->ended_by, RunEnd::kRounds);
}

TEST(RunBudget, BudgetBeyondTheRunEndsByRounds) {
  MURMUR_SEED_TRACE(1);
  const testing::ConfigRun plain = RunWith({});
  const testing::ConfigRun budgeted = RunWith({"sim.budget_bytes=1000000000000"});
  EXPECT_EQ(budgeted.metrics_jsonl, plain.metrics_jsonl);
  EXPECT_EQ(budgeted.summary->ended_by, RunEnd::kRounds);
}

TEST(RunBudget, SameSeedStopsAtTheSameRowWithOneOrTwoThreads) {
  MURMUR_SEED_TRACE(3);
  // Under loss, churn and unequal devices (the small lossy run), a byte
  // budget crossed mid-run.
  const auto run = [](int threads) {
    Config config = testing::SmallLossyRunConfig();
    EXPECT_TRUE(config.Set("seed=3").ok());
    EXPECT_TRUE(config.Set("protocol.round_timeout_s=0.5").ok());
    EXPECT_TRUE(config.Set("sim.budget_bytes=300000").ok());
    EXPECT_TRUE(config.Set("threads=" + std::to_string(threads)).ok());
    return testing::RunFromConfig(config);
  };
  const testing::ConfigRun one = run(1);
  const testing::ConfigRun two = run(2);
  ASSERT_TRUE(one.summary.ok()) << one.summary.status().ToString();
  EXPECT_EQ(one.summary->ended_by, RunEnd::kByteBudget);
  EXPECT_LT(one.summary->rows.back().round, 6);
  EXPECT_GE(one.summary->rows.back().bytes_sent, 300000u);
  EXPECT_EQ(one.metrics_jsonl, two.metrics_jsonl);
}

TEST(RunBudget, GossipAndFedAvgEndByABudgetWithEveryEvaluatedPeer) {
  MURMUR_SEED_TRACE(1);
  for (const char* kind : {"gossip", "fedavg"}) {
    std::vector<std::string> sets{std::string("protocol.kind=") + kind};
    if (std::string(kind) == "gossip") sets.push_back("protocol.gossip_period_s=0.05");
    const std::vector<EvalRow> full = RunWith(sets).summary->rows;
    sets.push_back("sim.budget_time_s=" + std::to_string(full[1].time_s * 1.2));
    const testing::ConfigRun run = RunWith(sets);
    const RunSummary& s = *run.summary;
    EXPECT_EQ(s.ended_by, RunEnd::kTimeBudget) << kind;
    EXPECT_TRUE(RunCompleted(s)) << kind;
    EXPECT_LT(s.rows.back().round, kRounds) << kind;
    EXPECT_GT(s.rows.back().round, full[1].round) << kind;
  }
}

TEST(RunBudget, BadValuesAreRejectedNamingTheKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"sim.budget_bytes=-1", "sim.budget_bytes"},
      {"sim.budget_bytes=0", "sim.budget_bytes"},
      {"sim.budget_bytes=1.5", "sim.budget_bytes"},
      {"sim.budget_time_s=-2", "sim.budget_time_s"},
      {"sim.budget_time_s=0", "sim.budget_time_s"},
      {"eval.target_acc=-0.1", "eval.target_acc"},
      {"eval.target_acc=1.5", "eval.target_acc"},
  };
  for (const auto& [setting, key] : cases) {
    Result<RunConfig> run = ReadRunConfig(Base({setting}));
    ASSERT_FALSE(run.ok()) << setting;
    EXPECT_EQ(run.status().code(), StatusCode::kInvalidArgument) << setting;
    EXPECT_NE(run.status().ToString().find(key), std::string::npos) << run.status().ToString();
  }
}

TEST(RunBudget, UnsetBudgetsLeaveTheResolvedConfigAsItWas) {
  const RunConfig plain = ReadRunConfig(Base({})).value();
  EXPECT_EQ(plain.resolved_toml.find("budget_bytes"), std::string::npos);
  EXPECT_EQ(plain.resolved_toml.find("budget_time_s"), std::string::npos);
  EXPECT_EQ(plain.resolved_toml.find("target_acc"), std::string::npos);
  const RunConfig set =
      ReadRunConfig(Base({"sim.budget_bytes=5000", "eval.target_acc=0.5"})).value();
  EXPECT_EQ(set.sim.budget.bytes, 5000u);
  EXPECT_EQ(set.eval.target_acc, 0.5);
  EXPECT_NE(set.resolved_toml.find("budget_bytes = 5000"), std::string::npos);
}

}  // namespace
}  // namespace murmur
