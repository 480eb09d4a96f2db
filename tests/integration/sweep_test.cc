// `murmur sweep` as a user runs it: a tiny synthetic grid run as child
// processes, its results files, resuming, a failing cell, bad grids. Every
// murmur process pays LibTorch's load time, so the grids are as small as
// the checks allow; grid parsing's edge cases are in tests/unit/tools/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "testing/cli_runner.h"

namespace {

using ::testing::HasSubstr;

using Outcome = murmur::testing::CliOutcome;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

class MurmurSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = murmur::testing::FreshTempDir("dir");
    // A base config beside the grid, found relative to the grid file.
    std::ofstream(dir_ + "/base.toml") << "peers = 4\nthreads = 1\n[data]\n"
                                          "dataset = \"synthetic\"\nsynthetic_train = 400\n"
                                          "synthetic_test = 100\n[model]\nhidden = [8]\n"
                                          "[protocol]\nrounds = 2\n[eval]\nevery = 1\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteGrid(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

// 3 topologies x 2 seeds. The edge-list topology names a file that does not
// exist: the config is valid, so the sweep starts, and those runs fail when
// they load the graph.
const char* kGrid =
    "base = \"base.toml\"\nseeds = [1, 2]\njobs = 2\n"
    "[set]\n\"train.lr\" = 0.1\n\"protocol.edge_list\" = \"/nonexistent/edges.txt\"\n"
    "[grid]\n\"protocol.topology\" = [\"ring\", \"edge-list\", \"full\"]\n";

TEST_F(MurmurSweep, RunsEveryCellReportsFailuresAndResumes) {
  const std::string grid = WriteGrid("grid.toml", kGrid);
  const std::string out = dir_ + "/out";
  Outcome first = RunMurmur("sweep " + grid + " --out " + out);
  // Some cells failed, the others ran: exit 1.
  ASSERT_EQ(first.exit_code, 1) << first.output;
  EXPECT_THAT(first.output, HasSubstr("3 cells x 2 seeds = 6 runs (6 to run, 2 at a time)"));
  EXPECT_THAT(first.output, HasSubstr("FAILED topology-edge-list-s1"));
  EXPECT_THAT(first.output, HasSubstr("/nonexistent/edges.txt"));  // the child's own reason
  EXPECT_THAT(first.output, HasSubstr("2 of 6 runs failed"));
  EXPECT_THAT(first.output, HasSubstr("| protocol.topology | acc_mean (95% CI) |"));

  // results.csv: one row per cell in grid order; failed cells have no numbers.
  const std::vector<std::string> csv = Lines(ReadFile(out + "/results.csv"));
  ASSERT_EQ(csv.size(), 4u);
  EXPECT_EQ(csv[0],
            "protocol.topology,seeds,finished,acc_mean,acc_mean_ci95,acc_mean_std,acc_min,"
            "acc_min_ci95,bytes_sent,bytes_sent_ci95,wall_s");
  const char* topologies[] = {"ring", "edge-list", "full"};
  for (size_t i = 0; i < 3; ++i) {
    const std::vector<std::string> f = Fields(csv[i + 1]);
    ASSERT_EQ(f.size(), 11u) << csv[i + 1];
    EXPECT_EQ(f[0], topologies[i]);
    EXPECT_EQ(f[1], "2");
    if (i == 1) {
      EXPECT_EQ(f[2], "0") << csv[i + 1];
      EXPECT_EQ(f[3], "");
      continue;
    }
    EXPECT_EQ(f[2], "2") << csv[i + 1];
    // The cell's acc_mean is the mean of its two runs' final acc_mean.
    double sum = 0;
    for (int seed : {1, 2}) {
      const std::vector<std::string> rows = Lines(ReadFile(
          out + "/runs/topology-" + topologies[i] + "-s" + std::to_string(seed) + "/metrics.csv"));
      ASSERT_EQ(rows.size(), 4u);  // header, rounds 0..2
      sum += std::stod(Fields(rows.back())[2]);
    }
    EXPECT_NEAR(std::stod(f[3]), sum / 2, 1e-5) << csv[i + 1];
    EXPECT_FALSE(f[4].empty());       // a 95% interval over two seeds
    EXPECT_FALSE(f[5].empty());       // and a standard deviation
    EXPECT_GT(std::stod(f[8]), 0.0);  // bytes sent
  }
  EXPECT_THAT(ReadFile(out + "/results.md"), HasSubstr("| edge-list | failed |"));
  const std::string svg = ReadFile(out + "/heatmap.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_THAT(svg, HasSubstr(">failed<"));
  EXPECT_THAT(ReadFile(out + "/runs/topology-ring-s1/log.txt"), HasSubstr("final: round 2"));

  // Run again: the finished runs are skipped (their record is untouched), the
  // failed ones run again.
  const std::string record = ReadFile(out + "/runs/topology-full-s2/sweep_run.txt");
  ASSERT_THAT(record, HasSubstr("exit 0"));
  Outcome second = RunMurmur("sweep " + grid + " --out " + out);
  EXPECT_EQ(second.exit_code, 1) << second.output;
  EXPECT_THAT(second.output, HasSubstr("6 runs (2 to run"));
  EXPECT_THAT(second.output, HasSubstr("skipped topology-full-s2: already complete"));
  EXPECT_EQ(ReadFile(out + "/runs/topology-full-s2/sweep_run.txt"), record);
  EXPECT_EQ(Lines(ReadFile(out + "/results.csv")), csv);

  // A changed [set] changes every run's config, so nothing is reused.
  std::string changed = kGrid;
  changed.replace(changed.find("0.1\n"), 4, "0.2\n");
  Outcome dry = RunMurmur("sweep " + WriteGrid("changed.toml", changed) + " --out " + out +
                          " --dry-run");
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("(6 to run"));
  EXPECT_THAT(dry.output, HasSubstr("--set train.lr=0.2"));
}

TEST_F(MurmurSweep, DryRunListsRunsAndStartsNothing) {
  const std::string grid = WriteGrid(
      "grid.toml", "base = \"base.toml\"\n[grid]\n\"protocol.topology\" = [\"ring\", \"full\"]\n"
                   "\"sim.max_time_s\" = [1000000.0, 1e-6]\n");
  Outcome o = RunMurmur("sweep " + grid + " --out " + dir_ + "/dry --dry-run --jobs 3");
  ASSERT_EQ(o.exit_code, 0) << o.output;
  // No seeds: one run per cell with the config's seed (1).
  EXPECT_THAT(o.output, HasSubstr("4 cells x 1 seeds = 4 runs (4 to run, 3 at a time)"));
  EXPECT_THAT(o.output, HasSubstr("murmur run " + dir_ + "/base.toml "
                                  "--set 'protocol.topology=\"full\"' "
                                  "--set sim.max_time_s=1e-06 --out " +
                                  dir_ + "/dry/runs/topology-full_max_time_s-1e-06-s1"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/dry"));
}

TEST_F(MurmurSweep, BadGridsExitWithCodeTwoBeforeAnythingRuns) {
  struct Case {
    std::string grid;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"base = \"nope.toml\"\n[grid]\npeers = [4]\n", "nope.toml"},
      {"base = \"base.toml\"\n[grid]\n\"protocol.topology\" = [\"ring\", \"hypercube\"]\n",
       "cell topology-hypercube: config key 'protocol.topology' = \"hypercube\""},
      {"base = \"base.toml\"\n[set]\n\"train.learning_rate\" = 0.1\n[grid]\npeers = [4]\n",
       "unknown config key 'train.learning_rate'"},
      {"base = \"base.toml\"\n[grid]\npeers = []\n", "axis 'peers'"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string out = dir_ + "/bad" + std::to_string(i);
    Outcome o = RunMurmur("sweep " + WriteGrid("bad.toml", cases[i].grid) + " --out " + out);
    EXPECT_EQ(o.exit_code, 2) << cases[i].grid << o.output;
    EXPECT_THAT(o.output, HasSubstr(cases[i].message)) << cases[i].grid;
    EXPECT_THAT(o.output, HasSubstr("murmur sweep:"));
    EXPECT_FALSE(std::filesystem::exists(out)) << "nothing may start: " << cases[i].grid;
  }
}

// A cell whose [robust] rule can never get the inputs it needs (median with
// f = 5 needs n > 10; a ring gives every peer 3) is refused when the grid is
// planned, --dry-run too, before any run starts: exit 2, naming the cell, its
// axis values and, word for word, what `murmur run` says for that config.
TEST_F(MurmurSweep, CellWhoseRobustRuleCannotHoldExitsTwoBeforeAnythingRuns) {
  const std::string rule = "\"robust.rule\" = \"median\"\n\"protocol.topology\" = \"ring\"\n";
  const std::string grid =
      WriteGrid("f.toml", "base = \"base.toml\"\n[set]\npeers = 16\n" + rule +
                              "[grid]\n\"robust.f\" = [1, 5]\n");
  const std::string out = dir_ + "/f";
  const Outcome run = RunMurmur("run --quiet " + dir_ + "/base.toml --set peers=16 "
                                "--set robust.rule=median --set protocol.topology=ring "
                                "--set robust.f=5");
  ASSERT_EQ(run.exit_code, 2) << run.output;
  const std::string prefix = "murmur run: ";
  ASSERT_EQ(run.output.rfind(prefix, 0), 0u) << run.output;
  const std::string why = run.output.substr(prefix.size());
  EXPECT_EQ(why,
            "robust.rule = \"median\" with robust.f = 5 needs at least 11 inputs per "
            "aggregation (median: n=3 f=5: needs n > 2f), but on protocol.topology = \"ring\" "
            "over 16 peers, peer 0 aggregates 3 models, its own and 2 from neighbours: lower "
            "robust.f, or use a denser protocol.topology\n");
  for (const char* flags : {"", " --dry-run"}) {
    const Outcome o = RunMurmur("sweep " + grid + " --out " + out + flags);
    EXPECT_EQ(o.exit_code, 2) << flags << o.output;
    EXPECT_EQ(o.output, "murmur sweep: cell f-5 (robust.f=5): " + why) << flags;
    EXPECT_FALSE(std::filesystem::exists(out)) << "nothing may start" << flags;
  }
  // With seeds, the run that cannot hold is named by its seed too; two axes
  // name the cell by both values. rule-mean cells (no precondition) and
  // median with f = 1 (n = 3 > 2) plan; median with f = 5 does not.
  const std::string seeded = WriteGrid(
      "seeded.toml", "base = \"base.toml\"\nseeds = [3, 4]\n[set]\npeers = 16\n"
                     "\"protocol.topology\" = \"ring\"\n[grid]\n"
                     "\"robust.rule\" = [\"mean\", \"median\"]\n\"robust.f\" = [1, 5]\n");
  const Outcome o = RunMurmur("sweep " + seeded + " --dry-run --out " + out);
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_EQ(o.output, "murmur sweep: cell rule-median_f-5 (robust.rule=\"median\", robust.f=5), "
                      "seed 3: " + why);
  EXPECT_FALSE(std::filesystem::exists(out));
}

// The same rule where every cell's precondition holds (a full graph of 4
// gives every peer 4 inputs; median with f = 1 needs 3) plans and runs.
TEST_F(MurmurSweep, GridWhoseRobustRulesAllHoldRuns) {
  const std::string grid = WriteGrid(
      "fits.toml", "base = \"base.toml\"\n[set]\n\"robust.rule\" = \"median\"\n"
                   "\"protocol.topology\" = \"full\"\n[grid]\n\"robust.f\" = [0, 1]\n");
  const std::string out = dir_ + "/fits";
  const Outcome dry = RunMurmur("sweep " + grid + " --dry-run --out " + out);
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("2 cells x 1 seeds = 2 runs (2 to run"));
  const Outcome o = RunMurmur("sweep " + grid + " --out " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  for (const char* cell : {"f-0", "f-1"}) {
    const std::vector<std::string> rows =
        Lines(ReadFile(out + "/runs/" + std::string(cell) + "-s1/metrics.csv"));
    EXPECT_EQ(rows.size(), 4u) << cell;  // header, rounds 0..2
  }
}

TEST(MurmurSweepHelp, ExplainsTheGridFileAndOutputs) {
  Outcome o = RunMurmur("sweep --help");
  EXPECT_EQ(o.exit_code, 0);
  for (const char* text : {"[grid]", "[set]", "seeds", "--jobs", "--dry-run", "--out",
                           "results.csv", "heatmap.svg", "skipped"}) {
    EXPECT_THAT(o.output, HasSubstr(text)) << text;
  }
}

}  // namespace
