// `murmur run` with [privacy]: the epsilon in summary.json and on the last
// metrics.jsonl row is what `murmur privacy epsilon` prints for the run's
// sigma, q = clients per round / clients, steps = rounds and delta; bad
// privacy keys exit 2 naming the key. The same for RQM under secure
// aggregation (privacy.secagg_encoding = "rqm") and `--mechanism rqm`.
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

// 8 FedAvg clients, all selected, 2 rounds, RQM under SecAgg+ on logistic
// regression over the 784-feature synthetic task: 7,850 coordinates a
// release.
const char* kRqmRun =
    "--set data.dataset=synthetic --set data.synthetic_train=512 "
    "--set data.synthetic_test=200 --set peers=8 --set model.kind=logreg "
    "--set protocol.kind=fedavg --set protocol.rounds=2 --set eval.every=1 "
    "--set privacy.secure_aggregation=secagg+ --set privacy.secagg_encoding=rqm "
    "--set privacy.rqm_clip=0.05 --set privacy.rqm_delta=0.075 --set privacy.delta=1e-5";

double PrintedEpsilon(const CliOutcome& cli) {
  const size_t at = cli.output.find("epsilon ");
  if (at == std::string::npos) return std::nan("");
  return std::strtod(cli.output.c_str() + at + 8, nullptr);  // %.6g
}

// The rows of rounds 1 and 2 in `out` carry what `murmur privacy epsilon
// --mechanism rqm` prints for 1 and 2 releases of 7,850 coordinates at
// clip 0.05, delta 0.075, 16 levels, keep 0.5; the summary the last.
void ExpectRqmEpsilonPerRound(const std::string& out) {
  const std::string rqm =
      "privacy epsilon --mechanism rqm --levels 16 --keep-probability 0.5 --clip 0.05 "
      "--rqm-delta 0.075 --dimension 7850 --delta 1e-5 --steps ";
  const CliOutcome one = RunMurmur(rqm + "1");
  const CliOutcome two = RunMurmur(rqm + "2");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const std::string rows = ReadFile(out + "/metrics.jsonl");
  const size_t second_row = rows.find("\"round\":2");
  ASSERT_NE(second_row, std::string::npos) << rows;
  const double after_one = Number(rows.substr(0, second_row), "epsilon");
  const double after_two = Number(rows, "epsilon");
  EXPECT_NEAR(after_one, PrintedEpsilon(one), 1e-5 * after_one);
  EXPECT_NEAR(after_two, PrintedEpsilon(two), 1e-5 * after_two);
  EXPECT_GT(after_two, after_one);
  EXPECT_EQ(Number(ReadFile(out + "/summary.json"), "epsilon"), after_two);
}

TEST(PrivacyCli, RqmRunReportsTheEpsilonPrivacyEpsilonPrintsPerRound) {
  const std::string out = TempPath("rqm_run");
  const CliOutcome run = RunMurmur(std::string("run ") + kRqmRun + " --quiet --out " + out);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ExpectRqmEpsilonPerRound(out);
  std::filesystem::remove_all(out);
}

// CHOCO with the rqm codec: a peer encodes one frame a round and sends it
// to every neighbour, so its rows carry the epsilon of `round` releases.
TEST(PrivacyCli, ChocoWithTheRqmCodecReportsEachPeersEpsilonPerRound) {
  const std::string out = TempPath("rqm_choco");
  const CliOutcome run = RunMurmur(
      "run --set data.dataset=synthetic --set data.synthetic_train=512 "
      "--set data.synthetic_test=200 --set peers=4 --set model.kind=logreg "
      "--set protocol.kind=choco --set protocol.rounds=2 --set eval.every=1 "
      "--set compress.codec=rqm:clip=0.05,delta=0.075,levels=16,keep=0.5 --quiet --out " + out);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ExpectRqmEpsilonPerRound(out);
  std::filesystem::remove_all(out);
}

// Keys are detected by presence: each rqm_* key at its default value,
// without secagg_encoding = "rqm", still exits 2 naming it.
TEST(PrivacyCli, RqmKeysWithoutRqmEncodingExitTwoNamingTheKeyEvenAtTheirDefaults) {
  for (const char* bad : {"privacy.rqm_clip=1", "privacy.rqm_delta=2", "privacy.rqm_levels=16",
                          "privacy.rqm_keep_probability=0.5"}) {
    const CliOutcome o = RunMurmur(std::string("run ") + kPrivateRun + " --set " + bad);
    EXPECT_EQ(o.exit_code, 2) << bad << ": " << o.output;
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(o.output.find(key + " configures RQM"), std::string::npos) << o.output;
  }
}

TEST(PrivacyCli, RqmMechanismRefusesGaussianOptionsAndAMissingDimension) {
  const std::pair<const char*, const char*> cases[] = {
      {"privacy epsilon --mechanism rqm --steps 3", "--dimension"},
      {"privacy epsilon --mechanism rqm --dimension 10 --steps 3 --sigma 1", "--sigma"},
      {"privacy epsilon --mechanism rqm --dimension 10 --steps 3 --rqm-delta 0.5", "delta"},
      {"privacy epsilon --mechanism laplace --sigma 1 --q 1 --steps 3", "--mechanism"}};
  for (const auto& [command, needle] : cases) {
    const CliOutcome o = RunMurmur(command);
    EXPECT_EQ(o.exit_code, 2) << command << ": " << o.output;
    EXPECT_NE(o.output.find(needle), std::string::npos) << o.output;
  }
}

}  // namespace
