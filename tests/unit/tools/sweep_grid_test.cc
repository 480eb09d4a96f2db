#include "sweep_grid.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace murmur::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

Result<SweepGrid> Parse(const std::string& text) {
  return ParseSweepGrid(text, "grid.toml", "/grids");
}

std::string ErrorOf(const std::string& text) {
  Result<SweepGrid> grid = Parse(text);
  EXPECT_FALSE(grid.ok()) << text;
  EXPECT_EQ(grid.status().code(), StatusCode::kInvalidArgument);
  return grid.status().message();
}

const char* kGrid = R"(
base = "configs/base.toml"
seeds = [3, 1]
jobs = 4
[set]
"protocol.rounds" = 40
model.hidden = [16, 8]
[grid]
"protocol.topology" = ["ring", "full"]
"data.alpha" = [0.1, 1000.0]
"train.lr" = [0.05]
)";

TEST(ParseSweepGrid, ReadsEveryFieldWithAxesInFileOrder) {
  Result<SweepGrid> grid = Parse(kGrid);
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_EQ(grid->base_path, "/grids/configs/base.toml");
  EXPECT_THAT(grid->seeds, ElementsAre(3, 1));
  EXPECT_EQ(grid->jobs, 4);
  // [set] in file order, with an unquoted dotted key flattened.
  ASSERT_EQ(grid->set.size(), 2u);
  EXPECT_THAT(grid->set, ElementsAre(Pair("protocol.rounds", "40"),
                                     Pair("model.hidden", "[16, 8]")));
  // toml++ sorts keys; the grid keeps the file's order.
  ASSERT_EQ(grid->axes.size(), 3u);
  EXPECT_EQ(grid->axes[0].key, "protocol.topology");
  EXPECT_THAT(grid->axes[0].values, ElementsAre("\"ring\"", "\"full\""));
  EXPECT_THAT(grid->axes[0].labels, ElementsAre("ring", "full"));
  EXPECT_EQ(grid->axes[1].key, "data.alpha");
  // Shortest round-trip floats that stay floats.
  EXPECT_THAT(grid->axes[1].values, ElementsAre("0.1", "1000.0"));
  EXPECT_EQ(grid->axes[2].key, "train.lr");
  EXPECT_EQ(grid->row_axis, 0u);
  EXPECT_EQ(grid->col_axis, 1u);
}

TEST(ParseSweepGrid, DefaultsToQuickstartOneJobAndTheConfigSeed) {
  Result<SweepGrid> grid = Parse("[grid]\npeers = [4, 8]\n");
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_EQ(grid->base_path, "");
  EXPECT_TRUE(grid->seeds.empty());
  EXPECT_EQ(grid->jobs, 1);
  EXPECT_EQ(grid->row_axis, 0u);
  EXPECT_FALSE(grid->col_axis.has_value());
}

TEST(ParseSweepGrid, RowsAndColsPickTheHeatmapAxes) {
  Result<SweepGrid> picked = Parse(
      "rows = \"train.lr\"\n[grid]\n\"protocol.topology\" = [\"ring\"]\n"
      "\"data.alpha\" = [0.1]\n\"train.lr\" = [0.05]\n");
  ASSERT_TRUE(picked.ok()) << picked.status().ToString();
  EXPECT_EQ(picked->row_axis, 2u);
  EXPECT_EQ(picked->col_axis, 0u);  // the first axis that is not the rows
  Result<SweepGrid> both = Parse(
      "rows = \"data.alpha\"\ncols = \"train.lr\"\n[grid]\n\"protocol.topology\" = [\"ring\"]\n"
      "\"data.alpha\" = [0.1]\n\"train.lr\" = [0.05]\n");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->row_axis, 1u);
  EXPECT_EQ(both->col_axis, 2u);
}

TEST(ParseSweepGrid, RejectsBadGridsNamingTheKeyAndValue) {
  EXPECT_THAT(ErrorOf("[grid]\npeers = [4\n"), HasSubstr("grid.toml:"));
  EXPECT_THAT(ErrorOf("seed = [1]\n[grid]\npeers = [4]\n"), HasSubstr("unknown grid key 'seed'"));
  EXPECT_THAT(ErrorOf("seeds = []\n[grid]\npeers = [4]\n"), HasSubstr("'seeds'"));
  EXPECT_THAT(ErrorOf("seeds = [1, -2]\n[grid]\npeers = [4]\n"), HasSubstr("-2"));
  EXPECT_THAT(ErrorOf("seeds = [1, 1]\n[grid]\npeers = [4]\n"), HasSubstr("seed 1 twice"));
  EXPECT_THAT(ErrorOf("jobs = 0\n[grid]\npeers = [4]\n"), HasSubstr("'jobs' = 0"));
  EXPECT_THAT(ErrorOf("base = 3\n[grid]\npeers = [4]\n"), HasSubstr("'base' = 3"));
  EXPECT_THAT(ErrorOf("seeds = [1]\n"), HasSubstr("no axes"));
  EXPECT_THAT(ErrorOf("[grid]\n"), HasSubstr("no axes"));
  EXPECT_THAT(ErrorOf("[grid]\npeers = []\n"), HasSubstr("axis 'peers'"));
  EXPECT_THAT(ErrorOf("[grid]\npeers = 4\n"), HasSubstr("axis 'peers' = 4"));
  EXPECT_THAT(ErrorOf("[grid]\npeers = [4, 4]\n"), HasSubstr("lists 4 twice"));
  EXPECT_THAT(ErrorOf("[grid]\npeers = [{a = 1}]\n"), HasSubstr("cannot be a table"));
  EXPECT_THAT(ErrorOf("[set]\npeers = 4\n[grid]\npeers = [4, 8]\n"),
              HasSubstr("both in [set] and in [grid]"));
  EXPECT_THAT(ErrorOf("rows = \"nope\"\n[grid]\npeers = [4]\n"),
              HasSubstr("\"nope\" is not a [grid] axis; axes: peers"));
  EXPECT_THAT(ErrorOf("rows = \"peers\"\ncols = \"peers\"\n[grid]\npeers = [4]\n"),
              HasSubstr("both name 'peers'"));
  EXPECT_THAT(ErrorOf("[grid]\n\"a b\" = [1]\n"), HasSubstr("not a dotted config key"));
}

TEST(ParseSweepGrid, RejectsCellsThatWouldShareARunDirectory) {
  // "[16, 8]" and "[16 8]"... arrays differ as TOML but not once made
  // directory-safe: "16_8" both times.
  EXPECT_THAT(ErrorOf("[grid]\n\"model.hidden\" = [[16, 8], [168], \"16 8\"]\n"),
              HasSubstr("same run directory name 'hidden-16_8'"));
}

TEST(ExpandCells, IsTheCartesianProductWithTheLastAxisFastest) {
  Result<SweepGrid> grid = Parse(kGrid);
  ASSERT_TRUE(grid.ok());
  std::vector<SweepCell> cells = ExpandCells(*grid);
  ASSERT_EQ(cells.size(), 4u);  // 2 x 2 x 1
  EXPECT_THAT(cells[0].value_index, ElementsAre(0, 0, 0));
  EXPECT_THAT(cells[1].value_index, ElementsAre(0, 1, 0));
  EXPECT_THAT(cells[2].value_index, ElementsAre(1, 0, 0));
  EXPECT_THAT(cells[3].value_index, ElementsAre(1, 1, 0));
  EXPECT_EQ(cells[1].name, "topology-ring_alpha-1000.0_lr-0.05");
  EXPECT_THAT(cells[1].assignments,
              ElementsAre("protocol.rounds=40", "model.hidden=[16, 8]",
                          "protocol.topology=\"ring\"", "data.alpha=1000.0", "train.lr=0.05"));
}

TEST(ParseSweepGrid, WritesFloatsAsPythonsReprDoes) {
  Result<SweepGrid> grid =
      Parse("[grid]\nx = [0.1, 1000000.0, 1e-6, 1e16, 2.5e-4, 0.0001, -3.0, 1e300]\n");
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_THAT(grid->axes[0].values, ElementsAre("0.1", "1000000.0", "1e-06", "1e+16",
                                                "0.00025", "0.0001", "-3.0", "1e+300"));
}

TEST(ExpandCells, UsesTheFullKeyWhenTwoAxesShareTheirLastPart) {
  Result<SweepGrid> grid = Parse("[grid]\n\"a.rate\" = [1]\n\"b.rate\" = [2]\n");
  ASSERT_TRUE(grid.ok());
  EXPECT_EQ(ExpandCells(*grid).at(0).name, "a.rate-1_b.rate-2");
}

TEST(ExpandCells, QuotesStringsAsTomlBasicStrings) {
  Result<SweepGrid> grid = Parse("[grid]\nname = ['say \"hi\"\\x']\n");
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  EXPECT_EQ(grid->axes[0].labels[0], "say \"hi\"\\x");
  EXPECT_THAT(ExpandCells(*grid).at(0).assignments,
              ElementsAre("name=\"say \\\"hi\\\"\\\\x\""));
  EXPECT_EQ(ExpandCells(*grid).at(0).name, "name-say_hi_x");
}

}  // namespace
}  // namespace murmur::cli

namespace murmur::cli {
namespace {

// Cells of a 2 x 2 grid (topology x tau), resolved configs standing in for
// what ReadRunConfig would write: `tau_matters` says whether tau shows up.
std::vector<std::string> Configs(const std::vector<SweepCell>& cells, bool tau_matters) {
  std::vector<std::string> configs;
  for (const SweepCell& cell : cells) {
    configs.push_back("topology " + std::to_string(cell.value_index[0]) +
                      (tau_matters ? " tau " + std::to_string(cell.value_index[1]) : ""));
  }
  return configs;
}

TEST(CheckEveryAxisMatters, NamesTheAxisWhoseCellsAllResolveAlike) {
  Result<SweepGrid> grid = ParseSweepGrid(
      "[grid]\n\"protocol.topology\" = [\"ring\", \"full\"]\n\"robust.tau\" = [0.1, 1.0]\n",
      "grid.toml", "/grids");
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  const std::vector<SweepCell> cells = ExpandCells(*grid);
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_TRUE(CheckEveryAxisMatters(*grid, cells, Configs(cells, true)).ok());
  const Status s = CheckEveryAxisMatters(*grid, cells, Configs(cells, false));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "grid axis 'robust.tau' changes nothing: its values [0.1, 1.0] give the same "
            "resolved run config in every cell (the runs do not use this key, or the values "
            "are equal); drop the axis or sweep a key these runs read");
  // It matters when some line of cells along it differs, even if others do not.
  std::vector<std::string> one_line = Configs(cells, false);
  one_line[3] += " tau 1";
  EXPECT_TRUE(CheckEveryAxisMatters(*grid, cells, one_line).ok());
}

TEST(CheckEveryAxisMatters, IgnoresSingleValueAxes) {
  Result<SweepGrid> grid =
      ParseSweepGrid("[grid]\n\"train.lr\" = [0.1]\n", "grid.toml", "/grids");
  ASSERT_TRUE(grid.ok()) << grid.status().ToString();
  const std::vector<SweepCell> cells = ExpandCells(*grid);
  EXPECT_TRUE(CheckEveryAxisMatters(*grid, cells, {"same"}).ok());
}

}  // namespace
}  // namespace murmur::cli
