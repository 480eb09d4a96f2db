// `murmur sweep --slurm FILE`: the array job script for a small grid. No
// Slurm here, so the test checks the script's text (tasks, cells, paths),
// that bash parses it (`bash -n`), and then plays Slurm's part for one
// task: SLURM_ARRAY_TASK_ID=1 bash FILE must run exactly cell 1's runs, as
// the sweep would, so that `murmur sweep` afterwards counts them as done.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "testing/cli_runner.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;
using murmur::testing::RunShell;
using murmur::testing::Stderr;

class MurmurSweepSlurm : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = murmur::testing::FreshTempDir("slurm");
    std::ofstream(dir_ + "/base.toml") << "peers = 4\nthreads = 1\n[data]\n"
                                          "dataset = \"synthetic\"\nsynthetic_train = 400\n"
                                          "synthetic_test = 100\n[model]\nhidden = [8]\n"
                                          "[protocol]\nrounds = 2\n[eval]\nevery = 1\n";
    std::ofstream(dir_ + "/grid.toml") << "base = \"base.toml\"\nseeds = [1, 2]\n"
                                          "[grid]\n\"protocol.topology\" = [\"ring\", \"full\"]\n";
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(MurmurSweepSlurm, WritesAnArrayJobWhoseTaskRunsOneCell) {
  const std::string grid = dir_ + "/grid.toml", out = dir_ + "/out", script = dir_ + "/job.sh";
  const auto made = RunMurmur("sweep " + grid + " --out " + out + " --slurm " + script);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_THAT(made.output, HasSubstr("2 array tasks (one per cell), 4 runs"));
  EXPECT_THAT(made.output, HasSubstr("sbatch " + script));
  EXPECT_FALSE(std::filesystem::exists(out + "/runs"));  // nothing ran
  EXPECT_TRUE(std::filesystem::is_directory(out));     // Slurm's --output directory exists

  const std::string text = ReadFile(script);
  EXPECT_EQ(text.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_THAT(text, HasSubstr("#SBATCH --job-name=murmur-grid\n"));
  EXPECT_THAT(text, HasSubstr("#SBATCH --array=0-1\n"));
  EXPECT_THAT(text, HasSubstr("#SBATCH --cpus-per-task=1\n"));  // threads = 1
  EXPECT_THAT(text, HasSubstr("#SBATCH --output=" + out + "/slurm-%A_%a.out\n"));
  EXPECT_THAT(text, HasSubstr("cd " + std::filesystem::current_path().string() + " "));
  // Task k is cell k in grid order, each with its two seeds' runs.
  const size_t ring = text.find("  0)  # topology-ring\n");
  const size_t full = text.find("  1)  # topology-full\n");
  ASSERT_NE(ring, std::string::npos) << text;
  ASSERT_NE(full, std::string::npos) << text;
  EXPECT_LT(ring, full);
  for (const std::string cell : {"ring", "full"}) {
    for (const std::string seed : {"1", "2"}) {
      const std::string run_dir = out + "/runs/topology-" + cell + "-s" + seed;
      EXPECT_THAT(text, HasSubstr("    run_one " + run_dir + " run " + dir_ +
                                  "/base.toml --set 'protocol.topology=\"" + cell +
                                  "\"' --seed " + seed + " --out " + run_dir +
                                  " || failed=$((failed + 1))\n"));
    }
  }
  // The binary the tasks run exists and is this build's.
  const size_t at = text.find("\nMURMUR=");
  ASSERT_NE(at, std::string::npos);
  const std::string murmur = text.substr(at + 8, text.find('\n', at + 1) - at - 8);
  EXPECT_EQ(::access(murmur.c_str(), X_OK), 0) << murmur;

  EXPECT_EQ(RunShell("bash -n " + script).exit_code, 0);
  const auto unset = RunShell("env -u SLURM_ARRAY_TASK_ID bash " + script, Stderr::kIntoOutput);
  EXPECT_NE(unset.exit_code, 0);
  EXPECT_THAT(unset.output, HasSubstr("submit this script with sbatch"));
  const auto beyond = RunShell("SLURM_ARRAY_TASK_ID=2 bash " + script, Stderr::kIntoOutput);
  EXPECT_EQ(beyond.exit_code, 2);
  EXPECT_THAT(beyond.output, HasSubstr("no cell 2 (this grid has cells 0-1)"));

  // Slurm's part for task 1: cell "full", both seeds, nothing else.
  const auto task = RunShell("SLURM_ARRAY_TASK_ID=1 bash " + script, Stderr::kIntoOutput);
  ASSERT_EQ(task.exit_code, 0) << task.output;
  for (const std::string seed : {"1", "2"}) {
    const std::string run_dir = out + "/runs/topology-full-s" + seed;
    EXPECT_THAT(ReadFile(run_dir + "/sweep_run.txt"), HasSubstr("exit 0\nwall_s ")) << seed;
    EXPECT_THAT(ReadFile(run_dir + "/log.txt"), HasSubstr("final: round 2")) << seed;
  }
  EXPECT_FALSE(std::filesystem::exists(out + "/runs/topology-ring-s1"));
  // The sweep counts task 1's runs as done and would run only cell 0's.
  const auto dry = RunMurmur("sweep " + grid + " --out " + out + " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("4 runs (2 to run"));
  EXPECT_THAT(dry.output, HasSubstr("done  murmur run " + dir_ + "/base.toml --set "
                                    "'protocol.topology=\"full\"' --seed 1"));
  EXPECT_THAT(dry.output, Not(HasSubstr("done  murmur run " + dir_ + "/base.toml --set "
                                        "'protocol.topology=\"ring\"'")));
}

TEST_F(MurmurSweepSlurm, BadGridIsRefusedBeforeAnyScriptIsWritten) {
  std::ofstream(dir_ + "/bad.toml") << "base = \"base.toml\"\n[grid]\n\"protocol.rounds\" = [-1]\n";
  const auto o = RunMurmur("sweep " + dir_ + "/bad.toml --slurm " + dir_ + "/job.sh");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/job.sh"));
}

}  // namespace
