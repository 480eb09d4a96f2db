// `murmur launch` takes its peers down with it, even when it is killed with
// SIGKILL and cannot clean up (issue 18: a killed launch left its peers
// running). The peers arm PR_SET_PDEATHSIG (tools/child_process.h).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/cli_runner.h"

namespace {

using Clock = std::chrono::steady_clock;
using murmur::testing::MurmurBin;
using Process = murmur::testing::ChildProcess;

// The pids whose parent is `parent` and that are not zombies, from /proc.
std::vector<pid_t> LiveChildrenOf(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 2, "%c %ld", &state, &ppid) != 2) continue;
    if (ppid == parent && state != 'Z') children.push_back(std::stoi(name));
  }
  return children;
}

// True when `pid` has exited (gone, or a zombie waiting for its new parent).
bool Exited(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return true;
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

TEST(LaunchLifetime, PeersDieWhenLaunchIsKilledWithSigkill) {
  ASSERT_FALSE(MurmurBin().empty()) << "MURMUR_BIN must point at the murmur binary";
  const std::string dir = murmur::testing::FreshTempDir("launch_lifetime");
  const std::string config = dir + "/run.toml";
  // Long enough that it cannot finish during the test.
  std::ofstream(config) << "seed = 3\npeers = 3\nthreads = 1\n"
                        << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 300\n"
                        << "synthetic_test = 100\n[model]\nkind = \"logreg\"\n"
                        << "[protocol]\nkind = \"dpsgd\"\ntopology = \"ring\"\n"
                        << "rounds = 1000000\nlocal_steps = 1\nround_timeout_s = 5\n"
                        << "[eval]\nevery = 100000\n";
  Process launch({MurmurBin(), "launch", "3", config, "--out", dir + "/run"});
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  ASSERT_FALSE(launch.AwaitLine("peer processes", deadline).empty()) << launch.log();
  std::vector<pid_t> peers;
  while (Clock::now() < deadline) {
    peers = LiveChildrenOf(launch.pid());
    if (peers.size() == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(peers.size(), 3u) << launch.log();
  launch.Kill9();
  const auto gone_by = Clock::now() + std::chrono::seconds(10);
  for (pid_t pid : peers) {
    while (!Exited(pid) && Clock::now() < gone_by) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(Exited(pid)) << "peer " << pid << " outlived its killed launch";
    if (!Exited(pid)) ::kill(pid, SIGKILL);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
