// The deployment recipes in deploy/. Docker and Slurm are not installed
// where this project is tested, so the container file, the compose file
// and the batch script are checked, not run: the scripts parse (`bash -n`),
// the compose file is valid YAML whose peers agree with each other (slots,
// addresses, bootstrap, key paths, the peer count) and with the image the
// Dockerfile builds. The one piece every recipe runs, deploy/make_keys.sh,
// runs for real with this build's murmur, and so do the compose file's peer
// commands, in network namespaces at their containers' addresses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "testing/cli_runner.h"
#include "testing/netns_lab.h"

namespace {

using ::testing::HasSubstr;
using murmur::testing::ReadFile;
using murmur::testing::RunShell;
using murmur::testing::Stderr;

const std::string kSource = MURMUR_SOURCE_DIR;
const std::string kDeploy = kSource + "/deploy";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(DeployRecipes, ScriptsParse) {
  for (const std::string script : {"make_keys.sh", "murmur_peers.sbatch"}) {
    const auto r = RunShell("bash -n " + kDeploy + "/" + script, Stderr::kIntoOutput);
    EXPECT_EQ(r.exit_code, 0) << script << ": " << r.output;
  }
  const std::string sbatch = ReadFile(kDeploy + "/murmur_peers.sbatch");
  EXPECT_EQ(sbatch.rfind("#!/bin/bash\n", 0), 0u);
  EXPECT_THAT(sbatch, HasSubstr("\n#SBATCH --ntasks-per-node=1\n"));
  EXPECT_THAT(sbatch, HasSubstr("bash deploy/make_keys.sh \"$out/keys\" \"$tasks\""));
  // Slurm stops reading #SBATCH lines at the first command.
  bool command_seen = false;
  for (const std::string& line : Lines(sbatch)) {
    if (line.rfind("#SBATCH", 0) == 0) {
      EXPECT_FALSE(command_seen) << line;
    } else if (!line.empty() && line[0] != '#') {
      command_seen = true;
    }
  }
}

TEST(DeployRecipes, MakeKeysWritesKeysNetworkKeyAndAllowlist) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must be set";
  const std::string dir = murmur::testing::FreshTempDir("keys") + "/keys";
  const std::string run = "MURMUR=" + murmur::testing::MurmurBin() + " bash " + kDeploy +
                          "/make_keys.sh " + dir + " 2";
  const auto made = RunShell(run, Stderr::kIntoOutput);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const std::vector<std::string> allow = Lines(ReadFile(dir + "/allow.txt"));
  ASSERT_EQ(allow.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const std::string key = dir + "/peer-" + std::to_string(i) + "/peer.key";
    const auto id = murmur::testing::RunMurmur("id " + key, Stderr::kApart);
    ASSERT_EQ(id.exit_code, 0);
    EXPECT_EQ(allow[i], id.output.substr(0, 64) + " " + std::to_string(i));
    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/net.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir + "/peer-0/net.key"));
  // Again: the keys stay (restarted peers keep their identities).
  const std::string before = ReadFile(dir + "/allow.txt");
  const auto again = RunShell(run, Stderr::kIntoOutput);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("keeping the keys"));
  EXPECT_EQ(ReadFile(dir + "/allow.txt"), before);
  const auto bad = RunShell("bash " + kDeploy + "/make_keys.sh " + dir + "2 three",
                            Stderr::kIntoOutput);
  EXPECT_EQ(bad.exit_code, 2);
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

// The value after `flag` in a command, "" if absent.
std::string Arg(const nlohmann::json& command, const std::string& flag) {
  for (size_t i = 0; i + 1 < command.size(); ++i) {
    if (command[i] == flag) return command[i + 1].get<std::string>();
  }
  return "";
}

// deploy/compose.yaml as JSON (python3-yaml); null when it does not parse.
nlohmann::json ReadCompose() {
  const auto parsed = RunShell(
      "/usr/bin/python3 -c 'import json, sys, yaml; "
      "json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' " + kDeploy + "/compose.yaml",
      Stderr::kIntoOutput);
  EXPECT_EQ(parsed.exit_code, 0) << parsed.output;
  return nlohmann::json::parse(parsed.output, nullptr, false);
}

TEST(DeployRecipes, ComposePeersAgreeWithEachOtherAndTheImage) {
  const nlohmann::json compose = ReadCompose();
  ASSERT_TRUE(compose.is_object());
  const nlohmann::json& services = compose["services"];
  const nlohmann::json& keys = services["keys"];
  EXPECT_EQ(keys["build"]["dockerfile"], "deploy/Dockerfile");
  EXPECT_EQ(keys["entrypoint"][1], "/src/deploy/make_keys.sh");
  const int slots = std::stoi(keys["entrypoint"][3].get<std::string>());
  EXPECT_EQ(compose["networks"]["mesh"]["ipam"]["config"][0]["subnet"], "10.42.0.0/24");
  int peers = 0;
  std::string address0;
  for (int i = 0; services.contains("peer" + std::to_string(i)); ++i) {
    SCOPED_TRACE("peer" + std::to_string(i));
    const nlohmann::json& peer = services["peer" + std::to_string(i)];
    const nlohmann::json& command = peer["command"];
    const std::string ip = peer["networks"]["mesh"]["ipv4_address"];
    EXPECT_EQ(ip.rfind("10.42.0.", 0), 0u);
    EXPECT_EQ(command[0], "peer");
    // The image holds the repository at /src.
    const std::string config = command[1];
    ASSERT_EQ(config.rfind("/src/", 0), 0u);
    EXPECT_TRUE(std::filesystem::exists(kSource + config.substr(4))) << config;
    EXPECT_EQ(Arg(command, "--index"), std::to_string(i));
    EXPECT_EQ(Arg(command, "--advertise"), ip + ":7000");
    EXPECT_EQ(Arg(command, "--listen"), "0.0.0.0:7000");
    EXPECT_EQ(Arg(command, "--key"), "/keys/peer-" + std::to_string(i) + "/peer.key");
    EXPECT_EQ(Arg(command, "--network-key"), "/keys/net.key");
    EXPECT_EQ(Arg(command, "--allow"), "/keys/allow.txt");
    EXPECT_EQ(Arg(command, "--out"), "/out/peer-" + std::to_string(i));
    EXPECT_EQ(Arg(command, "--set"), "peers=" + std::to_string(slots));
    EXPECT_EQ(peer["depends_on"]["keys"]["condition"], "service_completed_successfully");
    EXPECT_EQ(peer["image"], keys["image"]);
    EXPECT_EQ(peer["pull_policy"], "never");  // built here, never pulled
    if (i == 0) address0 = ip + ":7000";
    // Slot 0 bootstraps from slot 1 (to rejoin after a restart), the rest from slot 0.
    EXPECT_EQ(Arg(command, "--bootstrap"), i == 0 ? "10.42.0.11:7000" : address0);
    ++peers;
  }
  EXPECT_EQ(peers, slots);
  EXPECT_EQ(services["peer1"]["networks"]["mesh"]["ipv4_address"], "10.42.0.11");
}

TEST(DeployRecipes, DockerfileBuildsFromDebianWithTheDependencyScript) {
  const std::string docker = ReadFile(kDeploy + "/Dockerfile");
  EXPECT_THAT(docker, HasSubstr("\nFROM debian:12\n"));
  EXPECT_THAT(docker, HasSubstr("COPY scripts/install_deps.sh scripts/install_deps.sh\n"
                                "RUN bash scripts/install_deps.sh"));
  EXPECT_TRUE(std::filesystem::exists(kSource + "/scripts/install_deps.sh"));
  EXPECT_THAT(docker, HasSubstr("--target murmur"));
  EXPECT_THAT(docker, HasSubstr("ENTRYPOINT [\"murmur\"]"));
  // The context excludes local builds and keys.
  const std::string ignore = ReadFile(kDeploy + "/Dockerfile.dockerignore");
  EXPECT_THAT(ignore, HasSubstr("build*/"));
  EXPECT_THAT(ignore, HasSubstr("**/*.key"));
}

// Without Docker, the next best thing: the compose file's own commands,
// each peer in a network namespace holding the address compose gives its
// container (10.42.0.10-13), the image's paths (/src, /keys, /out) mapped
// to the source tree and a temp directory. Needs root (skipped otherwise).
TEST(DeployRecipes, ComposePeerCommandsRunInNamespacesAtTheirAddresses) {
  using Clock = std::chrono::steady_clock;
  if (murmur::testing::MurmurBin().empty()) GTEST_SKIP() << "MURMUR_BIN is not set";
  if (std::string why = murmur::testing::NetnsUnavailableReason(); !why.empty()) {
    GTEST_SKIP() << "cannot create network namespaces: " << why;
  }
  const nlohmann::json compose = ReadCompose();
  ASSERT_TRUE(compose.is_object());
  const nlohmann::json& services = compose["services"];
  const std::string tmp = murmur::testing::FreshTempDir("compose");
  auto map_path = [&](std::string arg) {
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"/src/", kSource + "/"},
                                   {"/keys", tmp + "/keys"},
                                   {"/out/", tmp + "/out/"}}) {
      if (arg.rfind(from, 0) == 0) return to + arg.substr(from.size());
    }
    return arg;
  };
  // The keys service's entrypoint.
  std::string keys_command = "MURMUR=" + murmur::testing::MurmurBin();
  for (const auto& arg : services["keys"]["entrypoint"]) keys_command += " " + map_path(arg);
  ASSERT_EQ(RunShell(keys_command, Stderr::kIntoOutput).exit_code, 0) << keys_command;

  int peers = 0;
  while (services.contains("peer" + std::to_string(peers))) ++peers;
  std::string error;
  const auto lab = murmur::testing::NetnsLab::Create(
      {.nodes = peers, .subnet = "10.42.0.", .first_host = 10}, &error);
  ASSERT_TRUE(lab) << error;
  std::vector<std::unique_ptr<murmur::testing::ChildProcess>> processes;
  const auto start = Clock::now();
  for (int i = 0; i < peers; ++i) {
    const nlohmann::json& service = services["peer" + std::to_string(i)];
    ASSERT_EQ(service["networks"]["mesh"]["ipv4_address"], lab->ip(i));
    std::vector<std::string> argv = {murmur::testing::MurmurBin()};
    for (const auto& arg : service["command"]) argv.push_back(map_path(arg));
    processes.push_back(std::make_unique<murmur::testing::ChildProcess>(lab->Wrap(i, argv)));
  }
  const auto deadline = start + std::chrono::seconds(150);
  for (int i = 0; i < peers; ++i) {
    EXPECT_EQ(processes[i]->Wait(deadline), 0) << "peer" << i << ":\n" << processes[i]->log();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (int i = 0; i < peers; ++i) {
    const std::string out = tmp + "/out/peer-" + std::to_string(i);
    std::ifstream summary_in(out + "/summary.json");
    const nlohmann::json summary = nlohmann::json::parse(summary_in, nullptr, false);
    EXPECT_EQ(summary.value("finished", false), true) << i;
    // The last row is the last round the command sets.
    const std::string rounds = services["peer0"]["command"][5].get<std::string>().substr(16);
    EXPECT_EQ(services["peer0"]["command"][5].get<std::string>().rfind("protocol.rounds=", 0), 0u);
    EXPECT_EQ(Lines(ReadFile(out + "/metrics.csv")).back().rfind(rounds + ",", 0), 0u) << i;
  }
  std::printf("compose's %d peer commands in namespaces: %.1f s\n", peers, seconds);
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(tmp);
}

}  // namespace
