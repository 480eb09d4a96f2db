#include "sweep_results.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace murmur::cli {
namespace {

using ::testing::HasSubstr;

RunOutcome Finished(double acc_mean, double acc_min, uint64_t bytes, double wall_s) {
  EvalRow row;
  row.acc_mean = acc_mean;
  row.acc_min = acc_min;
  row.bytes_sent = bytes;
  return RunOutcome{.ok = true, .final_row = row, .wall_s = wall_s};
}

TEST(Summarize, AveragesFinishedSeedsWithSampleStandardDeviationAndInterval) {
  // acc_mean {0.5, 0.7, 0.9}: mean 0.7, sample variance (0.04+0+0.04)/2 = 0.04,
  // sd 0.2; 95% half width t(2 dof) sd / sqrt(3) = 4.303 * 0.2 / 1.7320508
  // = 0.4968679. acc_min {0.4, 0.6, 0.8}: the same spread. bytes {100, 200,
  // 600}: mean 300, sd sqrt((40000+10000+90000)/2) = 264.5751, half width
  // 4.303 * 264.5751 / 1.7320508 = 657.2941.
  const std::vector<RunOutcome> seeds = {Finished(0.5, 0.4, 100, 1.0),
                                         Finished(0.7, 0.6, 200, 2.0),
                                         Finished(0.9, 0.8, 600, NAN)};
  CellSummary s = Summarize(seeds);
  EXPECT_EQ(s.seeds, 3u);
  EXPECT_EQ(s.finished, 3u);
  EXPECT_DOUBLE_EQ(s.acc_mean, 0.7);
  EXPECT_NEAR(s.acc_mean_std, 0.2, 1e-12);
  EXPECT_NEAR(s.acc_mean_ci95, 0.4968679, 1e-6);
  EXPECT_DOUBLE_EQ(s.acc_min, 0.6);
  EXPECT_NEAR(s.acc_min_ci95, 0.4968679, 1e-6);
  EXPECT_DOUBLE_EQ(s.bytes_sent, 300);
  EXPECT_NEAR(s.bytes_sent_ci95, 657.2941, 1e-3);
  EXPECT_DOUBLE_EQ(s.wall_s, 1.5);  // the unknown wall time is left out
}

TEST(Summarize, IntervalOfFiveSeedsUsesFourDegreesOfFreedom) {
  // acc_mean {0.80, 0.82, 0.84, 0.86, 0.88}: mean 0.84, squares 0.004, sd
  // sqrt(0.004/4) = 0.0316228; half width t(4) = 2.776 times sd / sqrt(5)
  // (0.0141421) = 0.0392586.
  std::vector<RunOutcome> seeds;
  for (double acc : {0.80, 0.82, 0.84, 0.86, 0.88}) seeds.push_back(Finished(acc, acc, 0, 1));
  CellSummary s = Summarize(seeds);
  EXPECT_NEAR(s.acc_mean, 0.84, 1e-12);
  EXPECT_NEAR(s.acc_mean_ci95, 0.0392586, 1e-6);
  EXPECT_DOUBLE_EQ(s.bytes_sent_ci95, 0.0);  // equal traffic: a zero-width interval
}

TEST(Summarize, LeavesOutFailedSeedsAndHasNoSpreadForOne) {
  RunOutcome failed = Finished(0.1, 0.1, 1, 1);
  failed.ok = false;  // e.g. stopped early: its last row must not count
  const std::vector<RunOutcome> seeds = {failed, Finished(0.8, 0.7, 10, 3)};
  CellSummary s = Summarize(seeds);
  EXPECT_EQ(s.seeds, 2u);
  EXPECT_EQ(s.finished, 1u);
  EXPECT_DOUBLE_EQ(s.acc_mean, 0.8);
  EXPECT_TRUE(std::isnan(s.acc_mean_std));
  EXPECT_TRUE(std::isnan(s.acc_mean_ci95));  // one seed states no interval
  EXPECT_TRUE(std::isnan(s.bytes_sent_ci95));
  CellSummary none = Summarize(std::vector<RunOutcome>{failed});
  EXPECT_EQ(none.finished, 0u);
  EXPECT_TRUE(std::isnan(none.acc_mean));
}

// Two axes, 2 x 2 cells, the middle ones failed or partly failed.
struct Fixture {
  SweepGrid grid;
  std::vector<SweepCell> cells;
  std::vector<CellSummary> summaries;
  Fixture() {
    grid.axes = {SweepAxis{.key = "protocol.topology", .values = {"\"ring\"", "\"full\""},
                           .labels = {"ring", "full"}},
                 SweepAxis{.key = "model.hidden", .values = {"[8]", "[16, 8]"},
                           .labels = {"[8]", "[16, 8]"}}};
    grid.row_axis = 0;
    grid.col_axis = 1;
    cells = ExpandCells(grid);
    summaries = {Summarize(std::vector<RunOutcome>{Finished(0.5, 0.4, 1'000'000, 2),
                                                   Finished(0.7, 0.6, 3'000'000, 4)}),
                 Summarize(std::vector<RunOutcome>{RunOutcome{}}),
                 Summarize(std::vector<RunOutcome>{Finished(0.25, 0.125, 5, 1)}),
                 Summarize(std::vector<RunOutcome>{Finished(1, 1, 0, 1)})};
  }
};

TEST(ResultsCsv, WritesOneRowPerCellQuotingCommas) {
  Fixture f;
  EXPECT_EQ(ResultsCsv(f.grid, f.cells, f.summaries),
            "protocol.topology,model.hidden,seeds,finished,acc_mean,acc_mean_ci95,acc_mean_std,"
            "acc_min,acc_min_ci95,bytes_sent,bytes_sent_ci95,wall_s\n"
            // Two seeds {0.5, 0.7}: sd 0.141421, half width t(1) = 12.706
            // times sd / sqrt(2) = 1.2706 (likewise acc_min {0.4, 0.6}); bytes
            // {1e6, 3e6}: sd 1414214, half width 12706000.
            "ring,[8],2,2,0.6,1.2706,0.141421,0.5,1.2706,2000000,12706000,3.00\n"
            "ring,\"[16, 8]\",1,0,,,,,,,,\n"
            "full,[8],1,1,0.25,,,0.125,,5,,1.00\n"
            "full,\"[16, 8]\",1,1,1,,,1,,0,,1.00\n");
}

TEST(ResultsMarkdown, ShowsMeanPlusMinus95IntervalAndFailedCells) {
  Fixture f;
  const std::string md = ResultsMarkdown(f.grid, f.cells, f.summaries);
  EXPECT_THAT(md, HasSubstr("| protocol.topology | model.hidden | acc_mean (95% CI) | "
                            "acc_min (95% CI) | MB sent |"));
  EXPECT_THAT(md, HasSubstr("| ring | [8] | 0.6000 ± 1.2706 | 0.5000 ± 1.2706 | 2.00 ± 12.71 | "
                            "3.0 | 2/2 |"));
  EXPECT_THAT(md, HasSubstr("| ring | [16, 8] | failed |  |  |  | 0/1 |"));
  EXPECT_THAT(md, HasSubstr("| full | [8] | 0.2500 | 0.1250 | 0.00 | 1.0 | 1/1 |"));
}

TEST(AccuracyPanels, PlacesEachCellByRowAndColumn) {
  Fixture f;
  std::vector<HeatmapPanel> panels = AccuracyPanels(f.grid, f.cells, f.summaries);
  ASSERT_EQ(panels.size(), 1u);
  EXPECT_EQ(panels[0].title, "");
  ASSERT_EQ(panels[0].values.size(), 2u);
  EXPECT_DOUBLE_EQ(panels[0].values[0][0], 0.6);
  EXPECT_TRUE(std::isnan(panels[0].values[0][1]));
  EXPECT_DOUBLE_EQ(panels[0].values[1][0], 0.25);
  EXPECT_DOUBLE_EQ(panels[0].values[1][1], 1.0);
}

TEST(AccuracyPanels, MakesOnePanelPerValueOfTheOtherAxes) {
  SweepGrid grid;
  grid.axes = {SweepAxis{.key = "a", .values = {"1", "2"}, .labels = {"1", "2"}},
               SweepAxis{.key = "b", .values = {"3"}, .labels = {"3"}},
               SweepAxis{.key = "c", .values = {"4", "5", "6"}, .labels = {"4", "5", "6"}}};
  grid.row_axis = 2;
  grid.col_axis = 0;
  std::vector<SweepCell> cells = ExpandCells(grid);  // 6 cells
  std::vector<CellSummary> summaries;
  for (size_t i = 0; i < cells.size(); ++i) {
    summaries.push_back(Summarize(std::vector<RunOutcome>{Finished(i / 10.0, 0, 0, 0)}));
  }
  std::vector<HeatmapPanel> panels = AccuracyPanels(grid, cells, summaries);
  ASSERT_EQ(panels.size(), 1u);
  EXPECT_EQ(panels[0].title, "b=3");
  EXPECT_EQ(panels[0].row_labels, (std::vector<std::string>{"4", "5", "6"}));
  EXPECT_EQ(panels[0].col_labels, (std::vector<std::string>{"1", "2"}));
  // Cell order is (a, b, c) with c fastest: cell i = a*3 + c.
  EXPECT_DOUBLE_EQ(panels[0].values[2][1], 0.5);  // c=6, a=2
  EXPECT_DOUBLE_EQ(panels[0].values[0][1], 0.3);  // c=4, a=2

  grid.row_axis = 0;
  grid.col_axis = 1;  // now c makes the panels
  panels = AccuracyPanels(grid, cells, summaries);
  ASSERT_EQ(panels.size(), 3u);
  EXPECT_EQ(panels[2].title, "c=6");
  EXPECT_DOUBLE_EQ(panels[2].values[1][0], 0.5);
}

}  // namespace
}  // namespace murmur::cli
