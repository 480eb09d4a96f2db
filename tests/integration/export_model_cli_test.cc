// `murmur run --export-model PATH` (the flag form of train.export_model):
// the exported TorchScript file loads in PyTorch, and its predictions on the
// test set give exactly the test accuracy murmur reported. Skipped, saying
// so, where /usr/bin/python3 has no torch (python3-torch).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "testing/cli_runner.h"

namespace {

using ::testing::HasSubstr;
using Outcome = murmur::testing::CliOutcome;
using murmur::testing::FreshTempDir;
using murmur::testing::RunMurmur;
using murmur::testing::RunShell;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// 4 Gaussian classes of 1x8x8 images (float32) and a scripted MLP for them.
const char* kMake = R"(
import sys, numpy, torch
from torch import nn
out = sys.argv[1]
rng = numpy.random.default_rng(0)
means = rng.normal(0, 1, (4, 64))
def draw(n):
    y = rng.integers(0, 4, n)
    x = means[y] + rng.normal(0, 1.5, (n, 64))
    return x.reshape(n, 1, 8, 8).astype('<f4'), y.astype('<i8')
xtr, ytr = draw(400)
xte, yte = draw(200)
numpy.savez(out + '/data.npz', x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
torch.manual_seed(0)
net = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
torch.jit.save(torch.jit.script(net), out + '/net.pt')
)";

// Prints the accuracy of the exported model on the test split.
const char* kScore = R"(
import sys, numpy, torch
m = torch.jit.load(sys.argv[1])
d = numpy.load(sys.argv[2])
with torch.no_grad():
    pred = m(torch.from_numpy(d['x_test'])).argmax(1).numpy()
print('%.6f' % (pred == d['y_test']).mean())
)";

std::string FinalAcc(const std::string& metrics_path) {
  std::ifstream in(metrics_path);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  std::smatch m;
  const std::regex acc("\"acc_mean\":([0-9.eE+-]+)");
  return std::regex_search(last, m, acc) ? m[1].str() : "";
}

TEST(ExportModelCli, ExportedModelLoadsInPyTorchAndScoresMurmursAccuracy) {
  // scripts/install_deps.sh installs python3-torch: its absence is a failure.
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null"), 0)
      << "/usr/bin/python3 has no torch: run scripts/install_deps.sh (python3-torch)";
  const std::string dir = FreshTempDir("export");
  WriteText(dir + "/make.py", kMake);
  WriteText(dir + "/score.py", kScore);
  ASSERT_EQ(RunShell("/usr/bin/python3 " + dir + "/make.py " + dir).exit_code, 0);
  const std::string run = "run --quiet --threads 1 --set data.dataset=npz --set data.path=" + dir +
                          "/data.npz --set model.kind=torchscript --set model.path=" + dir +
                          "/net.pt --set peers=1 --set protocol.rounds=3 --set eval.every=1"
                          " --set eval.test_samples=0 --set train.lr=0.05 --out " + dir + "/out";
  const Outcome first = RunMurmur(run + " --export-model final.pt");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // Relative: under --out; recorded in the run's config.toml as the key.
  const std::string exported = dir + "/out/final.pt";
  ASSERT_TRUE(std::filesystem::exists(exported));
  std::ifstream config(dir + "/out/config.toml");
  const std::string toml((std::istreambuf_iterator<char>(config)), std::istreambuf_iterator<char>());
  EXPECT_THAT(toml, ::testing::ContainsRegex("export_model = [\"']final\\.pt[\"']"));

  const Outcome score =
      RunShell("/usr/bin/python3 " + dir + "/score.py " + exported + " " + dir + "/data.npz");
  ASSERT_EQ(score.exit_code, 0) << score.output;
  const std::string murmur_acc = FinalAcc(dir + "/out/metrics.jsonl");
  ASSERT_FALSE(murmur_acc.empty());
  // One peer: the exported mean model is the evaluated model. 200 samples,
  // so the accuracy is a multiple of 0.005, well above chance (0.25).
  EXPECT_NEAR(std::stod(score.output), std::stod(murmur_acc), 1e-9)
      << "python " << score.output << " murmur " << murmur_acc;
  EXPECT_GT(std::stod(murmur_acc), 0.6);

  // The same path again: never silently replaced.
  const Outcome again = RunMurmur(run + " --export-model final.pt");
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_THAT(again.output, HasSubstr("train.export_model: '" + exported + "' already exists"));
  // A built-in model has no TorchScript to write.
  const Outcome builtin = RunMurmur(
      "run --quiet --set data.dataset=synthetic --set peers=2 --export-model x.pt");
  EXPECT_EQ(builtin.exit_code, 2) << builtin.output;
  EXPECT_THAT(builtin.output, HasSubstr("train.export_model writes a TorchScript file"));
  std::filesystem::remove_all(dir);
}

TEST(ExportModelCli, HelpDescribesTheFlag) {
  const Outcome help = RunMurmur("run --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("--export-model PATH"));
  EXPECT_THAT(help.output, HasSubstr("torch.jit.load"));
}

}  // namespace
