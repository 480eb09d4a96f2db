// `murmur run --resume DIR` after SIGKILL: a D-PSGD run (SGD with momentum)
// killed after its 1st snapshot and once more while resuming, a gossip run
// with heterogeneous devices and a FedAvg run killed after their 2nd
// snapshot, and Byzantine D-PSGD under a robust rule, Epidemic Learning and
// MoDeST under churn, each killed after its 1st and 3rd snapshot, each
// resumed, give metrics.jsonl, metrics.csv, peers.csv and summary.json
// byte-identical to an uninterrupted run without snapshots. A corrupt,
// truncated or other-config snapshot is refused with exit 2.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/cli_runner.h"

extern char** environ;

namespace {

using murmur::testing::FreshTempDir;
using murmur::testing::MurmurBin;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;

const std::string kSource = MURMUR_SOURCE_DIR;
// 16 peers, 20 rounds on synthetic data: about 0.23 s of virtual time, a
// snapshot every 0.05 virtual seconds (4 in the run).
const std::vector<std::string> kArgs = {
    kSource + "/examples/quickstart.toml", "--set", "data.dataset=\"synthetic\"",
    "--set", "model.hidden=[16]", "--set", "protocol.rounds=20", "--set", "eval.every=5",
    "--set", "eval.test_samples=500", "--threads", "2", "--quiet"};
constexpr double kEvery = 0.05;

// The virtual time of DIR/snapshot.bin's snapshot (run_snapshot.h: after
// the 8-byte magic, version u32 and three u64 fields), or -1 when there is
// none yet.
double SnapshotTime(const std::string& dir) {
  std::ifstream in(dir + "/snapshot.bin", std::ios::binary);
  char head[44];
  if (!in.read(head, sizeof head)) return -1;
  double t = 0;
  std::memcpy(&t, head + 36, sizeof t);
  return t;
}

pid_t Spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  const std::string bin = MurmurBin();
  argv.push_back(const_cast<char*>(bin.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  EXPECT_EQ(posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Runs `args` and SIGKILLs it once DIR holds a snapshot of virtual time at
// least `at_s`; true when the kill landed (the run had not finished).
bool KillAfterSnapshot(const std::vector<std::string>& args, const std::string& dir,
                       double at_s) {
  const pid_t pid = Spawn(args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return false;  // finished first
    if (SnapshotTime(dir) >= at_s) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

std::string Join(const std::vector<std::string>& args) {
  std::string s;
  for (const std::string& a : args) s += "'" + a + "' ";
  return s;
}

struct RunFiles {
  std::string jsonl, csv, peers, summary;
  bool operator==(const RunFiles&) const = default;
};

RunFiles FilesOf(const std::string& dir) {
  return {ReadFile(dir + "/metrics.jsonl"), ReadFile(dir + "/metrics.csv"),
          ReadFile(dir + "/peers.csv"), ReadFile(dir + "/summary.json")};
}

// Runs `example` (with kArgs' overrides) uninterrupted, then with a
// snapshot every `every` virtual seconds killed after the snapshot at
// `kill_at` (and, when `kill_resume_at` > 0, its resume killed after the
// snapshot at that time), resumes it and compares the files.
void ExpectKilledRunResumesIdentically(const std::string& example, double every, double kill_at,
                                       double kill_resume_at,
                                       const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = kArgs;
  args[0] = kSource + "/examples/" + example + ".toml";
  args.insert(args.end(), extra.begin(), extra.end());
  const std::string plain = FreshTempDir("resume-plain-" + example);
  ASSERT_EQ(RunMurmur("run " + Join(args) + " --out '" + plain + "'").exit_code, 0);
  const RunFiles expected = FilesOf(plain);
  ASSERT_NE(expected.jsonl.find("\"round\":20"), std::string::npos) << expected.jsonl;

  const std::string dir = FreshTempDir("resume-" + example);
  std::vector<std::string> run = {"run"};
  run.insert(run.end(), args.begin(), args.end());
  run.insert(run.end(), {"--snapshot-every", std::to_string(every), "--out", dir});
  ASSERT_TRUE(KillAfterSnapshot(run, dir, kill_at - 1e-9));
  // The killed run stopped short of the end.
  EXPECT_NE(ReadFile(dir + "/metrics.jsonl"), expected.jsonl);
  if (kill_resume_at > 0) {
    ASSERT_TRUE(KillAfterSnapshot({"run", "--resume", dir, "--quiet"}, dir, kill_resume_at - 1e-9));
  }
  const murmur::testing::CliOutcome resumed = RunMurmur("run --resume '" + dir + "' --quiet");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(FilesOf(dir) == expected);
  EXPECT_EQ(ReadFile(dir + "/metrics.jsonl"), expected.jsonl);
}

// D-PSGD with momentum on a ring: killed after its 1st snapshot, killed
// again while resuming after its 3rd, resumed.
TEST(MurmurRunResume, KilledDpsgdRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("quickstart", kEvery, kEvery, 3 * kEvery);
}

// Asynchronous gossip with heterogeneous devices and latency: compute tasks
// are in flight at every snapshot and timers pending; killed after its 2nd
// snapshot.
TEST(MurmurRunResume, KilledGossipRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("gossip", 1.0, 2.0, 0);
}

// FedAvg: a server and 16 clients with momentum; killed after its 2nd
// snapshot, with clients training and replies in flight.
TEST(MurmurRunResume, KilledFedAvgRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("fedavg", kEvery, 2 * kEvery, 0);
}

// Byzantine D-PSGD: 4 of 20 peers send "A Little Is Enough" models, the
// honest ones combine with a trimmed mean (examples/byzantine_dpsgd.toml,
// logistic regression); the attackers' round-start models and buffered
// honest models are saved too. Killed after its 1st snapshot, killed again
// while resuming after its 3rd.
TEST(MurmurRunResume, KilledByzantineDpsgdRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("byzantine_dpsgd", kEvery, kEvery, 3 * kEvery);
}

// Epidemic Learning: 16 peers of uneven speeds (so some train across a
// snapshot), each pushing to 7 drawn at random every round; a row every
// round, so the losses of the trainings cut by the snapshots are in the
// files.
TEST(MurmurRunResume, KilledEpidemicRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically(
      "epidemic", kEvery, kEvery, 3 * kEvery,
      {"--set", "peers=16", "--set", "sim.speed_sigma=0.5", "--set", "eval.every=1"});
}

// MoDeST under churn (online 0.3 s, offline 0.1 s on average): ping
// timeouts, partial rounds, resends, rejoins and stall restarts (13 in the
// uninterrupted run) with their timers pending at the snapshots; about 2.9
// virtual seconds for 20 rounds. Killed after its 1st snapshot, killed
// again while resuming after its 3rd.
TEST(MurmurRunResume, KilledModestRunUnderChurnResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically(
      "modest", 0.5, 0.5, 1.5,
      {"--set", "sim.churn_mean_online_s=0.3", "--set", "sim.churn_mean_offline_s=0.1", "--set",
       "protocol.round_timeout_s=0.2", "--set", "protocol.modest_ping_timeout_s=0.05"});
}

TEST(MurmurRunResume, RefusesCorruptTruncatedAndOtherConfigSnapshots) {
  const std::string dir = FreshTempDir("resume-bad");
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--set", "protocol.rounds=5", "--snapshot-every", "0.01", "--out",
                           dir});
  ASSERT_EQ(RunMurmur("run " + Join(args)).exit_code, 0);
  const std::string good = ReadFile(dir + "/snapshot.bin");
  ASSERT_GT(good.size(), 1000u);
  const auto resume_with = [&](const std::string& bytes, const std::string& extra) {
    std::ofstream(dir + "/snapshot.bin", std::ios::binary | std::ios::trunc) << bytes;
    return RunMurmur("run --resume '" + dir + "' --quiet" + extra);
  };
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  murmur::testing::CliOutcome o = resume_with(flipped, "");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("checksum"), std::string::npos) << o.output;
  o = resume_with(good.substr(0, good.size() - 100), "");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("truncated"), std::string::npos) << o.output;
  o = resume_with(good, " --set train.lr=0.07");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("another config"), std::string::npos) << o.output;
  // --threads does not change results, so it does not change the config hash.
  o = resume_with(good, " --threads 1");
  EXPECT_EQ(o.exit_code, 0) << o.output;
  std::remove((dir + "/snapshot.bin").c_str());
  o = RunMurmur("run --resume '" + dir + "' --quiet");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("nothing to resume"), std::string::npos) << o.output;
}

TEST(MurmurRunResume, ProtocolWithoutSnapshotsIsNamedAndRefused) {
  const std::string dir = FreshTempDir("resume-unsupported");
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--set", "protocol.kind=\"sgp\"", "--snapshot-every", "0.05", "--out",
                           dir});
  const murmur::testing::CliOutcome o = RunMurmur("run " + Join(args));
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("protocol.kind = \"sgp\""), std::string::npos) << o.output;
}

// State that snapshots do not hold is refused at start, naming the kind:
// a Sybil coalition (shared by its members) and SybilWall's histories.
TEST(MurmurRunResume, SybilCoalitionAndSybilWallAreRefused) {
  for (const std::string& set : {"byzantine.attack=\"sybil\"", "robust.rule=\"sybilwall\""}) {
    const std::string dir = FreshTempDir("resume-sybil");
    std::vector<std::string> args = kArgs;
    args[0] = kSource + "/examples/byzantine_dpsgd.toml";
    args.insert(args.end(), {"--set", set, "--snapshot-every", "0.05", "--out", dir});
    const murmur::testing::CliOutcome o = RunMurmur("run " + Join(args));
    EXPECT_EQ(o.exit_code, 2) << set << ": " << o.output;
    EXPECT_NE(o.output.find("protocol.kind = \"dpsgd\" with this config cannot snapshot"),
              std::string::npos)
        << set << ": " << o.output;
  }
}

}  // namespace
