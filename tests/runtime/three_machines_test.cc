// The "Three machines" walkthrough of docs/runtime.md (and README.md), step
// by step with the same commands, on 127.0.0.1: machines A, B and C are
// three directories, each command runs in its machine's directory, and the
// only change is `--listen 127.0.0.1:0` (any free port) instead of
// 10.0.0.X:7000, with B and C bootstrapping from the port A printed.
// If this test needs another step, so does the walkthrough.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/cli_runner.h"

namespace {

using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using murmur::testing::MurmurBin;
using murmur::testing::ReadFile;
using murmur::testing::RunShell;
using murmur::testing::Stderr;
using Process = murmur::testing::ChildProcess;

class ThreeMachines : public ::testing::Test {
 protected:
  void SetUp() override {
    if (MurmurBin().empty()) GTEST_SKIP() << "MURMUR_BIN is not set (ctest sets it)";
    root_ = murmur::testing::FreshTempDir("walkthrough");
    for (const char* m : {"A", "B", "C"}) std::filesystem::create_directory(root_ + "/" + m);
  }
  void TearDown() override {
    if (!root_.empty() && !HasFailure()) std::filesystem::remove_all(root_);
  }

  // `command` on machine `m` (in its directory), `murmur` being this build's.
  murmur::testing::CliOutcome On(const std::string& m, const std::string& command,
                                 Stderr stderr_to = Stderr::kApart) {
    return RunShell("cd " + root_ + "/" + m + " && murmur() { " + MurmurBin() +
                        " \"$@\"; } && " + command,
                    stderr_to);
  }

  std::string root_;
};

TEST_F(ThreeMachines, WalkthroughCommandsTrainThreePeers) {
  // Keys: A makes a key pair and the network key, B and C key pairs only.
  const auto a = On("A", "murmur keygen keys");
  ASSERT_EQ(a.exit_code, 0) << a.error;
  EXPECT_THAT(a.output, MatchesRegex("[0-9a-f]{64}\n"));
  EXPECT_THAT(a.error, HasSubstr("keys/peer.key and keys/net.key"));
  for (const char* m : {"B", "C"}) {
    const auto r = On(m, "murmur keygen --no-network-key keys");
    ASSERT_EQ(r.exit_code, 0) << r.error;
    EXPECT_FALSE(std::filesystem::exists(root_ + "/" + m + "/keys/net.key"));
  }
  // keygen refuses to overwrite a key.
  EXPECT_EQ(On("A", "murmur keygen keys", Stderr::kIntoOutput).exit_code, 2);
  // net.key from A to B and C ("scp", mode 0600).
  for (const char* m : {"B", "C"}) {
    ASSERT_EQ(RunShell("cp -p " + root_ + "/A/keys/net.key " + root_ + "/" + m + "/keys/")
                  .exit_code,
              0);
  }
  // The allowlist: A's line from `murmur id`, B's and C's pasted from theirs.
  ASSERT_EQ(On("A", "echo \"$(murmur id keys/peer.key) 0\" >  allow.txt").exit_code, 0);
  std::string allow = ReadFile(root_ + "/A/allow.txt");
  EXPECT_EQ(allow, a.output.substr(0, 64) + " 0\n");
  int slot = 1;
  for (const char* m : {"B", "C"}) {
    const auto id = On(m, "murmur id keys/peer.key");
    ASSERT_EQ(id.exit_code, 0);
    allow += id.output.substr(0, 64) + " " + std::to_string(slot++) + "\n";
  }
  for (const char* m : {"A", "B", "C"}) std::ofstream(root_ + "/" + m + "/allow.txt") << allow;

  // The same config everywhere.
  for (const char* m : {"A", "B", "C"}) {
    std::ofstream(root_ + "/" + m + "/run.toml")
        << "seed = 2\npeers = 3\nthreads = 1\n[data]\ndataset = \"synthetic\"\n"
        << "synthetic_train = 600\nsynthetic_test = 200\n[model]\nkind = \"logreg\"\n"
        << "[protocol]\nkind = \"dpsgd\"\ntopology = \"ring\"\nrounds = 8\n"
        << "local_steps = 5\nround_timeout_s = 5\n[eval]\nevery = 4\n";
  }
  auto start = [&](const std::string& m, int index, const std::string& bootstrap) {
    std::string command = "cd " + root_ + "/" + m + " && exec " + MurmurBin() +
                          " peer run.toml --index " + std::to_string(index) +
                          " --listen 127.0.0.1:0 --key keys/peer.key"
                          " --network-key keys/net.key --allow allow.txt --out out";
    if (!bootstrap.empty()) command += " --bootstrap " + bootstrap;
    return std::make_unique<Process>(std::vector<std::string>{"/bin/sh", "-c", command});
  };
  const auto deadline = Clock::now() + std::chrono::seconds(90);
  std::vector<std::unique_ptr<Process>> peers;
  peers.push_back(start("A", 0, ""));
  // First line: the peer's name (keygen printed it too) and its address.
  const std::string ready = peers[0]->AwaitLine("listening on ", deadline);
  ASSERT_FALSE(ready.empty()) << peers[0]->log();
  const std::string name = a.error.substr(a.error.find("(peer ") + 6, 19);
  EXPECT_THAT(ready, HasSubstr("murmur peer 0 " + name + " listening on 127.0.0.1:"));
  const std::string address_a = ready.substr(ready.find("listening on ") + 13);
  peers.push_back(start("B", 1, address_a));
  peers.push_back(start("C", 2, address_a));
  for (size_t i = 0; i < peers.size(); ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  int slot_seen = 0;
  for (const char* m : {"A", "B", "C"}) {
    SCOPED_TRACE(m);
    std::ifstream in(root_ + "/" + m + "/out/metrics.jsonl");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    ASSERT_FALSE(last.empty());
    const nlohmann::json row = nlohmann::json::parse(last);
    EXPECT_EQ(row["round"], 8);
    EXPECT_GT(row["acc_mean"].get<double>(), 0.9);
    std::ifstream summary_in(root_ + "/" + m + "/out/summary.json");
    const nlohmann::json summary = nlohmann::json::parse(summary_in);
    EXPECT_EQ(summary["finished"], true);
    EXPECT_EQ(summary["peer"], slot_seen++);
  }
}

}  // namespace
