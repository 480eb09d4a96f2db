// model.kind = "resnet" and train.device through the murmur binary: bad
// depths and a CUDA device that is not there are user errors (exit code 2,
// one line saying what to do), and "auto" without a GPU is the CPU run,
// byte for byte.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "testing/cli_runner.h"

namespace {

using ::testing::HasSubstr;
using Outcome = murmur::testing::CliOutcome;
using murmur::testing::FreshTempDir;
using murmur::testing::MurmurBin;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;
using murmur::testing::RunShell;
using murmur::testing::Stderr;

const char* kTinyResNet =
    "run --quiet --threads 1 --set data.dataset=synthetic --set data.synthetic_train=64"
    " --set data.synthetic_test=32 --set peers=2 --set protocol.rounds=2 --set eval.every=1"
    " --set protocol.local_steps=2 --set train.batch_size=8 --set model.kind=resnet"
    " --set model.depth=8 --set model.width=0.25";

// `murmur <args>` with no CUDA device visible, whatever the machine has.
Outcome RunWithoutGpu(const std::string& args) {
  return RunShell("CUDA_VISIBLE_DEVICES= " + MurmurBin() + " " + args, Stderr::kIntoOutput);
}

TEST(ResNetCli, DepthThatIsNot6nPlus2ExitsTwoSayingWhichDepthsExist) {
  const Outcome o = RunMurmur(std::string(kTinyResNet) + " --set model.depth=21");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_EQ(o.output,
            "murmur run: model.depth = 21 is not 6n + 2 with n >= 1: the CIFAR ResNet is a first "
            "conv, 3 stages of n blocks of 2 convs and an output layer; use 8, 14, 20, 32, 44, 56 "
            "or 110\n");
  const Outcome groups = RunMurmur(std::string(kTinyResNet) + " --set model.groups=3");
  EXPECT_EQ(groups.exit_code, 2) << groups.output;
  EXPECT_THAT(groups.output, HasSubstr("model.groups = 3 must divide the first stage's 4 channels"));
  // ResNet keys on another model are unknown keys, not silently ignored.
  const Outcome mlp = RunMurmur(std::string(kTinyResNet) + " --set model.kind=mlp");
  EXPECT_EQ(mlp.exit_code, 2) << mlp.output;
  EXPECT_THAT(mlp.output, HasSubstr("unknown config key 'model.depth'"));
}

TEST(DeviceCli, CudaWithoutAGpuExitsTwoAndAutoIsTheCpuRun) {
  const Outcome cuda = RunWithoutGpu(std::string(kTinyResNet) + " --set train.device=cuda");
  EXPECT_EQ(cuda.exit_code, 2) << cuda.output;
  EXPECT_EQ(cuda.output,
            "murmur run: train.device = \"cuda\" but no CUDA device is visible; use \"cpu\" or "
            "\"auto\"\n");
  const Outcome typo = RunWithoutGpu(std::string(kTinyResNet) + " --set train.device=gpu");
  EXPECT_EQ(typo.exit_code, 2) << typo.output;
  EXPECT_THAT(typo.output, HasSubstr("'train.device' = \"gpu\" is not one of: cpu, cuda, auto"));

  const std::string dir = FreshTempDir("device");
  const Outcome cpu = RunWithoutGpu(std::string(kTinyResNet) + " --out " + dir + "/cpu");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.output;
  const Outcome automatic =
      RunWithoutGpu(std::string(kTinyResNet) + " --set train.device=auto --out " + dir + "/auto");
  ASSERT_EQ(automatic.exit_code, 0) << automatic.output;
  const std::string a = ReadFile(dir + "/cpu/metrics.jsonl");
  EXPECT_THAT(a, HasSubstr("\"round\":2"));
  EXPECT_EQ(a, ReadFile(dir + "/auto/metrics.jsonl"));
  std::filesystem::remove_all(dir);
}

}  // namespace
