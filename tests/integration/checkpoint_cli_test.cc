// Pretraining then fine-tuning through the murmur binary: a run's
// train.save_checkpoint is the next run's model.init_checkpoint, and damaged
// or mismatched checkpoints are refused with a clear error.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "testing/cli_runner.h"

namespace {

using Outcome = murmur::testing::CliOutcome;

// `murmur run <args>`, stdout and stderr together.
Outcome MurmurRun(const std::string& args) { return murmur::testing::RunMurmur("run " + args); }

std::vector<std::string> AccMeans(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  std::vector<std::string> out;
  std::string line;
  const std::regex acc("\"acc_mean\":([0-9.eE+-]+)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, acc)) out.push_back(m[1]);
  }
  return out;
}

const char* kSmall =
    " --quiet --threads 1 --set data.dataset=synthetic --set data.synthetic_train=400"
    " --set data.synthetic_test=100 --set model.kind=logreg --set eval.every=1";

TEST(CheckpointCli, FineTuningStartsFromThePretrainedModel) {
  const std::filesystem::path dir = murmur::testing::TempPath("dir");
  const std::string ckpt = (dir / "pre.ckpt").string();
  Outcome pre = MurmurRun(std::string(kSmall) + " --set peers=1 --set protocol.rounds=3" +
                    " --set protocol.local_steps=5 --set train.save_checkpoint=" + ckpt +
                    " --out " + (dir / "pre").string());
  ASSERT_EQ(pre.exit_code, 0) << pre.output;
  Outcome fine = MurmurRun(std::string(kSmall) + " --set peers=4 --set protocol.kind=spsa" +
                     " --set protocol.rounds=2 --set model.init_checkpoint=" + ckpt + " --out " +
                     (dir / "fine").string());
  ASSERT_EQ(fine.exit_code, 0) << fine.output;
  const std::vector<std::string> pre_acc = AccMeans((dir / "pre" / "metrics.jsonl").string());
  const std::vector<std::string> fine_acc = AccMeans((dir / "fine" / "metrics.jsonl").string());
  ASSERT_EQ(pre_acc.size(), 4u);
  ASSERT_EQ(fine_acc.size(), 3u);
  // Round 0 of the fine-tuning run evaluates exactly the saved model.
  EXPECT_EQ(fine_acc.front(), pre_acc.back());
  EXPECT_NE(pre_acc.front(), pre_acc.back());

  // A different model: refused as a usage error naming the mismatch.
  Outcome mismatch = MurmurRun(std::string(kSmall) + " --set model.kind=mlp --set protocol.rounds=1" +
                         " --set model.init_checkpoint=" + ckpt);
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.output;
  EXPECT_NE(mismatch.output.find("checkpoint was saved from model logreg (7850 "
                                 "parameters) but the config builds mlp-128 (101770 parameters)"),
            std::string::npos)
      << mismatch.output;

  // A truncated file: refused, naming the file.
  std::filesystem::resize_file(ckpt, std::filesystem::file_size(ckpt) - 1);
  Outcome truncated = MurmurRun(std::string(kSmall) + " --set protocol.rounds=1" +
                          " --set model.init_checkpoint=" + ckpt);
  EXPECT_NE(truncated.exit_code, 0);
  EXPECT_NE(truncated.output.find("truncated"), std::string::npos) << truncated.output;
  EXPECT_NE(truncated.output.find(ckpt), std::string::npos) << truncated.output;

  Outcome missing = MurmurRun(std::string(kSmall) + " --set model.init_checkpoint=" +
                        (dir / "none.ckpt").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("train.save_checkpoint"), std::string::npos) << missing.output;
  std::filesystem::remove_all(dir);
}

// A ResNet-8's checkpoint loaded into a ResNet-14, or into a ResNet-8 with
// other group-norm groups (same tensor sizes, another function): refused
// with exit code 2, naming both architectures and the first tensor that
// differs. ResNet-8 with 4 first-stage channels on 1x28x28: stem 36 + 8,
// stages 144 + 144 + 16, 288 + 576 + 32, 1152 + 2304 + 64, head 170 = 4934;
// ResNet-14 adds a block per stage: 304 + 1184 + 4672 = 11094.
TEST(CheckpointCli, AnotherArchitectureIsRefusedNamingBoth) {
  const std::filesystem::path dir = murmur::testing::TempPath("arch");
  const std::string ckpt = (dir / "resnet8.ckpt").string();
  const std::string resnet =
      " --quiet --threads 1 --set data.dataset=synthetic --set data.synthetic_train=64"
      " --set data.synthetic_test=16 --set peers=1 --set protocol.rounds=1"
      " --set protocol.local_steps=1 --set model.kind=resnet --set model.width=0.25";
  Outcome pre = MurmurRun(resnet + " --set model.depth=8 --set train.save_checkpoint=" + ckpt);
  ASSERT_EQ(pre.exit_code, 0) << pre.output;
  Outcome same = MurmurRun(resnet + " --set model.depth=8 --set model.init_checkpoint=" + ckpt);
  EXPECT_EQ(same.exit_code, 0) << same.output;
  Outcome deeper = MurmurRun(resnet + " --set model.depth=14 --set model.init_checkpoint=" + ckpt);
  EXPECT_EQ(deeper.exit_code, 2) << deeper.output;
  EXPECT_NE(deeper.output.find(
                "murmur run: " + ckpt + ": checkpoint was saved from model resnet8-c4-gn2 (4934 "
                "parameters) but the config builds resnet14-c4-gn2 (11094 parameters) (parameter "
                "tensor 9: 288 values in the checkpoint, 144 in the model)"),
            std::string::npos)
      << deeper.output;
  Outcome groups = MurmurRun(resnet + " --set model.depth=8 --set model.groups=4" +
                             " --set model.init_checkpoint=" + ckpt);
  EXPECT_EQ(groups.exit_code, 2) << groups.output;
  EXPECT_NE(groups.output.find("saved from model resnet8-c4-gn2 (4934 parameters) but the config "
                               "builds resnet8-c4-gn4 (4934 parameters)"),
            std::string::npos)
      << groups.output;
  std::filesystem::remove_all(dir);
}

}  // namespace
