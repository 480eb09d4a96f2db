// `murmur run` with [privacy]: the epsilon in summary.json and on the last
// metrics.jsonl row is what `murmur privacy epsilon` prints for the run's
// sigma, q = clients per round / clients, steps = rounds and delta; bad
// privacy keys exit 2 naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "testing/cli_runner.h"

namespace {

using murmur::testing::CliOutcome;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;
using murmur::testing::TempPath;

// 8 FedAvg clients, 4 per round (q = 0.5), 3 rounds, central DP.
const char* kPrivateRun =
    "--set data.dataset=synthetic --set data.synthetic_train=512 "
    "--set data.synthetic_test=200 --set peers=8 --set model.kind=logreg "
    "--set protocol.kind=fedavg --set protocol.rounds=3 --set protocol.client_fraction=0.5 "
    "--set eval.every=3 --set privacy.mode=central --set privacy.clip=0.5 "
    "--set privacy.noise_multiplier=1.3 --set privacy.delta=1e-4";

// The number after `"key":` (compact JSON) or `"key": ` (indented), or NaN.
double Number(const std::string& json, const std::string& key) {
  for (const std::string& tag : {"\"" + key + "\":", "\"" + key + "\": "}) {
    const size_t at = json.rfind(tag);
    if (at != std::string::npos) return std::strtod(json.c_str() + at + tag.size(), nullptr);
  }
  return std::nan("");
}

TEST(PrivacyCli, RunReportsTheEpsilonPrivacyEpsilonPrints) {
  const std::string out = TempPath("run");
  const CliOutcome run = RunMurmur(std::string("run ") + kPrivateRun + " --quiet --out " + out);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const CliOutcome cli = RunMurmur("privacy epsilon --sigma 1.3 --q 0.5 --steps 3 --delta 1e-4");
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  const size_t at = cli.output.find("epsilon ");
  ASSERT_NE(at, std::string::npos) << cli.output;
  const double printed = std::strtod(cli.output.c_str() + at + 8, nullptr);  // %.6g
  const double summary = Number(ReadFile(out + "/summary.json"), "epsilon");
  const double last_row = Number(ReadFile(out + "/metrics.jsonl"), "epsilon");
  EXPECT_NEAR(summary, printed, 1e-5 * printed);
  EXPECT_EQ(last_row, summary);
  std::filesystem::remove_all(out);
}

TEST(PrivacyCli, BadPrivacyKeysExitTwoNamingTheKey) {
  for (const char* bad : {"privacy.mode=everything", "privacy.clip=-1"}) {
    const CliOutcome o = RunMurmur(std::string("run ") + kPrivateRun + " --set " + bad);
    EXPECT_EQ(o.exit_code, 2) << bad << ": " << o.output;
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(o.output.find(key), std::string::npos) << o.output;
  }
  // The same private run over D-PSGD (client_fraction is FedAvg's key).
  std::string dpsgd_run = kPrivateRun;
  const std::string fedavg_only = "--set protocol.client_fraction=0.5 ";
  dpsgd_run.erase(dpsgd_run.find(fedavg_only), fedavg_only.size());
  const CliOutcome central_dpsgd =
      RunMurmur("run " + dpsgd_run + " --set protocol.kind=dpsgd");
  EXPECT_EQ(central_dpsgd.exit_code, 2) << central_dpsgd.output;
  EXPECT_NE(central_dpsgd.output.find("privacy.mode = \"local\""), std::string::npos)
      << central_dpsgd.output;
}

}  // namespace
