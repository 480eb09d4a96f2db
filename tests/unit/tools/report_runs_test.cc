#include "report_runs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "murmur/experiment/metrics_files.h"
#include "report_html.h"
#include "report_table.h"

namespace murmur::cli {
namespace {

namespace fs = std::filesystem;

EvalRow Row(int64_t round, double time_s, uint64_t bytes, double acc) {
  EvalRow r;
  r.round = round;
  r.time_s = time_s;
  r.bytes_sent = bytes;
  r.acc_mean = acc;
  r.acc_min = acc - 0.1;
  r.acc_max = acc + 0.1;
  return r;
}

class ReportRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("murmur_report_runs_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A run directory as `murmur run --out` writes it: config.toml, metrics.
  std::string Write(const std::string& name, const std::string& toml,
                    const std::vector<EvalRow>& rows) {
    const std::string dir = (root_ / name).string();
    Result<MetricsWriter> w = MetricsWriter::Open(dir, toml);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    for (const EvalRow& r : rows) EXPECT_TRUE(w->Append(r).ok());
    return dir;
  }

  std::vector<RunRecord> Load(const std::vector<std::string>& dirs) {
    std::vector<RunRecord> runs;
    for (const std::string& d : dirs) {
      Result<RunRecord> r = LoadRun(d);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) runs.push_back(std::move(*r));
    }
    RelativeRunNames(runs);
    return runs;
  }

  fs::path root_;
};

const std::vector<EvalRow> kCurve = {Row(0, 0.0, 0, 0.1), Row(2, 1.5, 2'000'000, 0.5),
                                     Row(4, 3.0, 4'000'000, 0.8)};

TEST_F(ReportRunsTest, GroupsRunsWhoseConfigDiffersOnlyInSeedAndThreads) {
  const std::string dpsgd = "[protocol]\nkind = \"dpsgd\"\nrounds = 4\n";
  const std::vector<RunRecord> runs = Load({
      Write("dpsgd-s1", "seed = 1\nthreads = 2\n" + dpsgd, kCurve),
      Write("gossip-s1", "seed = 1\n[protocol]\nkind = \"gossip\"\nrounds = 4\n", kCurve),
      // Same config as dpsgd-s1 up to seed, threads and the order of keys.
      Write("dpsgd-s2", "threads = 1\nseed = 2\n[protocol]\nrounds = 4\nkind = \"dpsgd\"\n",
            kCurve),
      Write("gossip-s2", "seed = 2\n[protocol]\nkind = \"gossip\"\nrounds = 4\n", kCurve),
      Write("dpsgd-lr", "seed = 1\n[train]\nlr = 0.5\n" + dpsgd, kCurve),
  });
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs[2].seed, 2u);
  const std::vector<RunGroup> groups = GroupBySeed(runs);
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].label, "dpsgd-s*");
  EXPECT_EQ(groups[0].runs, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(groups[1].label, "gossip-s*");
  EXPECT_EQ(groups[1].runs, (std::vector<size_t>{1, 3}));
  EXPECT_EQ(groups[2].label, "dpsgd-lr");
  EXPECT_EQ(groups[2].runs, (std::vector<size_t>{4}));
}

TEST_F(ReportRunsTest, NamesAreRelativeToTheRunsCommonFolderAndOddNamesSayHowManySeeds) {
  const std::vector<RunRecord> runs = Load({
      Write("a/first", "seed = 7\n", kCurve),
      Write("b/second", "seed = 8\n", kCurve),
  });
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].name, "a/first");
  EXPECT_EQ(runs[1].name, "b/second");
  const std::vector<RunGroup> groups = GroupBySeed(runs);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].label, "a/first (+1 seeds)");
}

TEST(ReportAccuracyAt, LastEvaluationAtOrBeforeThePoint) {
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kMb, 0.0), 0.1);
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kMb, 1.999), 0.1);
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kMb, 2.0), 0.5);  // at: included
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kMb, 3.9), 0.5);
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kMb, 100.0), 0.8);  // ended before: final
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kTime, 1.49), 0.1);
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kTime, 3.0), 0.8);
  EXPECT_DOUBLE_EQ(AccuracyAt(kCurve, Axis::kRound, 3), 0.5);
  // The first evaluation is already past the point: no value.
  const std::vector<EvalRow> late = {Row(2, 1.5, 2'000'000, 0.5)};
  EXPECT_TRUE(std::isnan(AccuracyAt(late, Axis::kMb, 1.0)));
  EXPECT_TRUE(std::isnan(AccuracyAt({}, Axis::kTime, 1.0)));
}

TEST_F(ReportRunsTest, SummaryAndCurvesAreMeanAndIntervalOverSeeds) {
  // Three seeds ending at 0.7, 0.8, 0.9: mean 0.8, sd 0.1, t(2) = 4.303.
  std::vector<std::string> dirs;
  for (int seed = 1; seed <= 3; ++seed) {
    std::vector<EvalRow> rows = {Row(0, 0.0, 0, 0.1),
                                 Row(2, 1.0 * seed, 1'000'000 * seed, 0.3 + 0.1 * seed),
                                 Row(4, 2.0 * seed, 2'000'000 * seed, 0.6 + 0.1 * seed)};
    if (seed == 3) rows.push_back(Row(6, 9.0, 9'000'000, 0.95));  // only seed 3 has round 6
    dirs.push_back(Write("run-s" + std::to_string(seed), "seed = " + std::to_string(seed), rows));
  }
  const std::vector<RunRecord> runs = Load(dirs);
  const std::vector<RunGroup> groups = GroupBySeed(runs);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].label, "run-s*");

  const ReportPoints points{.mb = {2.0}, .time_s = {2.5}};
  const GroupSummary s = SummarizeGroup(runs, groups[0], points);
  // Final rows: 0.7 (round 4), 0.8 (round 4), 0.95 (round 6).
  EXPECT_EQ(s.final_acc.n, 3u);
  EXPECT_NEAR(s.final_acc.mean, (0.7 + 0.8 + 0.95) / 3, 1e-12);
  EXPECT_NEAR(s.mb_sent.mean, (2.0 + 4.0 + 9.0) / 3, 1e-12);
  // At 2 MB: seed 1 at round 4 (0.7), seed 2 at round 2 (0.5), seed 3 at
  // round 0 (0.1: its round 2 came at 3 MB).
  EXPECT_NEAR(s.at_mb[0].mean, (0.7 + 0.5 + 0.1) / 3, 1e-12);
  // At 2.5 s: seed 1 round 4 (0.7), seed 2 round 2 (0.5), seed 3 round 0 (0.1).
  EXPECT_NEAR(s.at_time[0].mean, (0.7 + 0.5 + 0.1) / 3, 1e-12);
  EXPECT_EQ(s.time_to_target.n, 0u);

  const GroupCurve curve = AggregateGroup(runs, groups[0]);
  EXPECT_EQ(curve.round, (std::vector<int64_t>{0, 2, 4}));  // round 6: one seed only
  EXPECT_NEAR(curve.mb[2], (2.0 + 4.0 + 6.0) / 3, 1e-12);
  EXPECT_NEAR(curve.time_s[1], 2.0, 1e-12);
  const SeedStats& at4 = curve.stats.at("acc_mean")[2];
  EXPECT_NEAR(at4.mean, 0.8, 1e-12);
  EXPECT_NEAR(at4.half_width, 4.303 * 0.1 / std::sqrt(3.0), 1e-9);
  EXPECT_NEAR(curve.min.at("acc_mean")[2], 0.7, 1e-12);
  EXPECT_NEAR(curve.max.at("acc_mean")[2], 0.9, 1e-12);
  EXPECT_NEAR(curve.stats.at("acc_min")[2].mean, 0.7, 1e-12);
}

TEST(ReportTable, MarkdownAndCsvByHand) {
  const std::vector<RunGroup> groups = {{.label = "a-s*", .runs = {0, 1}},
                                        {.label = "b|c", .runs = {2}}};
  GroupSummary two{.final_acc = {.n = 2, .mean = 0.8, .half_width = 0.05},
                   .final_acc_min = {.n = 2, .mean = 0.6, .half_width = 0.1},
                   .mb_sent = {.n = 2, .mean = 12.345},
                   .virtual_s = {.n = 2, .mean = 3.5},
                   .at_mb = {{.n = 2, .mean = 0.5, .half_width = 0.25}}};
  GroupSummary one{.final_acc = {.n = 1, .mean = 0.9},
                   .final_acc_min = {.n = 1, .mean = 0.85},
                   .mb_sent = {.n = 1, .mean = 1},
                   .virtual_s = {.n = 1, .mean = 2},
                   .at_mb = {{}}};
  const ReportPoints points{.mb = {1.5}};
  EXPECT_EQ(FormatTable(TableFormat::kMarkdown, groups, {two, one}, points),
            "| group | seeds | final acc | acc min | MB sent | virtual s | acc @ 1.5 MB |\n"
            "|---|---:|---:|---:|---:|---:|---:|\n"
            "| a-s* | 2 | 0.8000 ± 0.0500 | 0.6000 | 12.35 | 3.50 | 0.5000 ± 0.2500 |\n"
            "| b\\|c | 1 | 0.9000 | 0.8500 | 1.00 | 2.00 | - |\n");
  EXPECT_EQ(FormatTable(TableFormat::kCsv, groups, {two, one}, points),
            "group,seeds,acc_mean,acc_mean_ci95,acc_min,mb_sent,virtual_s,acc_at_1.5mb,"
            "acc_at_1.5mb_ci95\n"
            "a-s*,2,0.8,0.05,0.6,12.345,3.5,0.5,0.25\n"
            "b|c,1,0.9,,0.85,1,2,,\n");
  const std::string text = FormatTable(TableFormat::kText, groups, {two, one}, points);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "group  seeds        final acc  acc min  MB sent  virtual s     acc @ 1.5 MB");
}

TEST_F(ReportRunsTest, TargetColumnsAppearWhenSummariesRecordThem) {
  const std::string dir = Write("t-s1", "seed = 1\n", kCurve);
  std::ofstream(dir + "/summary.json")
      << R"({"virtual_time_s": 3.25, "ended_by": "target", "time_to_target_s": 2.5,
             "bytes_to_target": 3000000, "round_to_target": 3})";
  // Seed 2 had the target too and did not reach it (null).
  const std::string missed = Write("t-s2", "seed = 2\n", kCurve);
  std::ofstream(missed + "/summary.json")
      << R"({"ended_by": "rounds", "time_to_target_s": null, "bytes_to_target": null})";
  const std::vector<RunRecord> runs = Load({dir, missed});
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].ended_by, "target");
  EXPECT_TRUE(runs[1].has_target);
  const std::vector<RunGroup> groups = GroupBySeed(runs);
  ASSERT_EQ(groups.size(), 1u);
  const GroupSummary s = SummarizeGroup(runs, groups[0], {});
  EXPECT_DOUBLE_EQ(s.virtual_s.mean, (3.25 + 3.0) / 2);  // summary.json's, else the last row's
  EXPECT_DOUBLE_EQ(s.time_to_target.mean, 2.5);
  EXPECT_EQ(s.time_to_target.n, 1u);
  EXPECT_DOUBLE_EQ(s.mb_to_target.mean, 3.0);
  EXPECT_EQ(s.target_runs, 2u);
  const std::string csv = FormatTable(TableFormat::kCsv, groups, {s}, {});
  EXPECT_NE(csv.find("s_to_target,s_to_target_ci95,mb_to_target,mb_to_target_ci95,"
                     "reached_target\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",2.5,,3,,1/2\n"), std::string::npos) << csv;
  // Runs without a target: no such columns.
  const std::vector<RunRecord> plain = Load({Write("p-s1", "seed = 1\n", kCurve)});
  const std::vector<RunGroup> plain_groups = GroupBySeed(plain);
  EXPECT_EQ(FormatTable(TableFormat::kCsv, plain_groups,
                        {SummarizeGroup(plain, plain_groups[0], {})}, {})
                .find("target"),
            std::string::npos);
}

TEST_F(ReportRunsTest, BadFilesAreNamed) {
  Result<RunRecord> missing = LoadRun((root_ / "nothing").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  const std::string dir = Write("bad", "seed = 1\n", kCurve);
  std::ofstream(dir + "/config.toml") << "seed = = 1\n";
  Result<RunRecord> bad = LoadRun(dir);
  EXPECT_EQ(bad.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(bad.status().ToString().find("config.toml"), std::string::npos);
  std::ofstream(dir + "/config.toml") << "seed = 1\n";
  std::ofstream(dir + "/summary.json") << "{not json";
  bad = LoadRun(dir);
  EXPECT_EQ(bad.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(bad.status().ToString().find("summary.json"), std::string::npos);
}

TEST_F(ReportRunsTest, PageInlinesDygraphsAndCannotBeClosedByARunName) {
  std::vector<RunRecord> runs(1);
  runs[0].name = "x</script>y";
  runs[0].rows = kCurve;
  const nlohmann::json data = ReportJson(runs, GroupBySeed(runs), PlotView{});
  EXPECT_EQ(data["groups"][0]["color"], ReportColor(0));
  EXPECT_EQ(data["groups"][0]["metrics"]["acc_mean"]["mean"][2], 0.8);
  Result<std::string> page = ReportHtml("t", "<table></table>", data);
  if (!fs::exists(DygraphsDir() + "/dygraph.min.js")) {
    EXPECT_EQ(page.status().code(), StatusCode::kNotFound);
    GTEST_SKIP() << "libjs-dygraphs is not installed";
  }
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_NE(page->find("Dygraph"), std::string::npos);
  EXPECT_EQ(page->find("sourceMappingURL"), std::string::npos);
  // Nothing is fetched: no external script, stylesheet or source map.
  EXPECT_EQ(page->find("<script src"), std::string::npos);
  EXPECT_EQ(page->find("<link"), std::string::npos);
  EXPECT_EQ(page->find("x</script>y"), std::string::npos);
  EXPECT_NE(page->find("x<\\/script>y"), std::string::npos);

  ::setenv("MURMUR_DYGRAPHS_DIR", (root_ / "none").c_str(), 1);
  Result<std::string> without = ReportHtml("t", "", data);
  ::unsetenv("MURMUR_DYGRAPHS_DIR");
  EXPECT_EQ(without.status().code(), StatusCode::kNotFound);
  EXPECT_NE(without.status().ToString().find("libjs-dygraphs"), std::string::npos);
}

}  // namespace
}  // namespace murmur::cli
