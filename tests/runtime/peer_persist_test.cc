// Issue 18, deliverable 3: runtime peers persist their state and resume
// after a restart (`murmur peer --persist-every N`, docs/runtime.md,
// "Persisting and resuming peers"). Four D-PSGD peers persist every 20
// rounds; once every one of them has passed round kKillAfter, all four are
// killed with kill -9 (a whole-cluster power loss) and restarted with the
// same commands (but for peer 0's address in --bootstrap: it listens on
// port 0). Each must resume at the round its state file holds (its
// metrics cut back to the rows through that round, the rest written once by
// the new life: no round twice, none missing), finish every round and exit 0,
// and the peers' final accuracy must be within kAccTolerance of an
// uninterrupted run of the same config measured first in the same test.
// The other tests: peers resumed twenty rounds apart get back in step;
// `murmur launch --persist-every` restarts a peer killed with kill -9 and
// it resumes from its state; gossip peers resume from their nodes'
// snapshots; Epidemic Learning, SGP and DFedSAM peers killed together
// resume and end exactly as uninterrupted; a launched Epidemic or DFedSAM
// peer killed alone resumes and the run finishes; a launched FedAvg
// server, and a launched FedAvg client,
// killed with kill -9 resume and the run finishes; a FedAvg server
// restarted from its state of the last round says Bye to its clients; and
// the refusals:
// another protocol (by `murmur peer` and by `murmur launch`), a FedAvg run
// whose state cannot be saved, another run's state, a truncated or corrupt
// state (exit 2 and a message, never a crash and never a silent fresh
// start).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "murmur/runtime/identity.h"
#include "testing/cli_runner.h"

namespace {

using Clock = std::chrono::steady_clock;
using Process = murmur::testing::ChildProcess;

constexpr int kPeers = 4;
constexpr int kRounds = 300;
constexpr int kPersistEvery = 20;
constexpr int kKillAfter = 65;
// Epidemic and DFedSAM persist only with a round timeout
// (PersistableWithRoundTimeout); one far longer than a restart, so that
// none fires in a run resumed from one round and it stays exact.
constexpr double kTogetherTimeoutS = 30;
constexpr int kEvalEvery = 5;  // every peer past it: each persisted round 60 or later
// The final mean accuracy of the resumed run may be this much below the
// uninterrupted run's (both measured here; see the test for the values).
constexpr double kAccTolerance = 0.03;

// `protocol`: the [protocol] section's kind and its own keys; `extra`:
// further sections at the end.
std::string WriteConfig(const std::string& dir,
                        const std::string& protocol = "kind = \"dpsgd\"\ntopology = \"ring\"",
                        double round_timeout_s = 0.1, const std::string& extra = "") {
  const std::string path = dir + "/persist.toml";
  // A short round timeout: peers killed around a persisted round boundary
  // may resume 20 rounds apart, and then wait out a timeout per round until
  // the one ahead finishes (docs/runtime.md).
  std::ofstream(path) << "seed = 7\npeers = " << kPeers << "\nthreads = 1\n"
                      << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 800\n"
                      << "synthetic_test = 200\nsynthetic_noise = 1.5\n[model]\nkind = \"logreg\"\n"
                      << "[protocol]\n" << protocol << "\nrounds = " << kRounds
                      << "\nlocal_steps = 2\nround_timeout_s = " << round_timeout_s
                      << "\n[eval]\nevery = " << kEvalEvery << "\n" << extra;
  return path;
}

std::vector<std::string> PeerArgs(const std::string& dir, const std::string& config, int index,
                                  const std::string& bootstrap, bool persist,
                                  const std::vector<std::string>& extra = {}) {
  const std::string peer_dir = dir + "/peer-" + std::to_string(index);
  std::vector<std::string> argv = {murmur::testing::MurmurBin(), "peer", config, "--index",
                                   std::to_string(index), "--key", peer_dir + "/key",
                                   "--network-key", dir + "/network.key", "--out", peer_dir,
                                   "--peer-timeout", "2"};
  if (persist) {
    argv.push_back("--persist-every");
    argv.push_back(std::to_string(kPersistEvery));
  }
  if (!bootstrap.empty()) {
    argv.push_back("--bootstrap");
    argv.push_back(bootstrap);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Starts peers 0..count-1 (peer 0 first, the others bootstrapping from it).
std::vector<std::unique_ptr<Process>> StartPeers(const std::string& dir, const std::string& config,
                                                 bool persist, int count = kPeers,
                                                 const std::vector<std::string>& extra = {}) {
  std::vector<std::unique_ptr<Process>> peers;
  peers.push_back(std::make_unique<Process>(PeerArgs(dir, config, 0, "", persist, extra)));
  const std::string line =
      peers[0]->AwaitLine("listening on ", Clock::now() + std::chrono::seconds(60));
  EXPECT_FALSE(line.empty()) << "peer 0 did not start:\n" << peers[0]->log();
  if (line.empty()) return {};
  const std::string addr0 = line.substr(line.find("listening on ") + 13);
  for (int i = 1; i < count; ++i) {
    peers.push_back(std::make_unique<Process>(PeerArgs(dir, config, i, addr0, persist, extra)));
  }
  return peers;
}

struct Row {
  int64_t round;
  double acc;
  double loss;
};

std::vector<Row> ReadRows(const std::string& peer_dir) {
  std::vector<Row> rows;
  std::ifstream in(peer_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto row = nlohmann::json::parse(line);
    rows.push_back({row["round"].get<int64_t>(), row["acc_mean"].get<double>(),
                    row["loss_mean"].get<double>()});
  }
  return rows;
}

// A peer's rows after a kill and a resume at round `persisted`: each round
// once, in order (the rows the killed life wrote after its save were cut
// back, not written twice), and every evaluated round through `persisted`
// there (kEvalEvery apart). With `no_gap`, every evaluated round through
// `rounds` (a D-PSGD catch-up may skip rounds where the peer jumps).
void ExpectEachRowOnce(const std::vector<Row>& rows, int64_t persisted, int64_t rounds,
                       bool no_gap, const std::string& who) {
  for (size_t k = 1; k < rows.size(); ++k) {
    EXPECT_GT(rows[k].round, rows[k - 1].round) << who << " row " << k;
  }
  const int64_t through = no_gap ? rounds : persisted;
  for (int64_t r = 0, k = 0; r <= through; r += kEvalEvery, ++k) {
    ASSERT_LT(static_cast<size_t>(k), rows.size()) << who << ": no row of round " << r;
    EXPECT_EQ(rows[k].round, r) << who << " row " << k;
  }
}

// The round field of a peer_state.bin (experiment/peer_state.h: after the
// 8-byte magic, u32 version, u64 config hash and u32 slot); -1 if absent.
int64_t PersistedRound(const std::string& peer_dir) {
  const std::string bytes = murmur::testing::ReadFile(peer_dir + "/peer_state.bin");
  if (bytes.size() < 32) return -1;
  int64_t round = 0;
  std::memcpy(&round, bytes.data() + 24, 8);
  return round;
}

// Waits for the peer's "] round N" line with N >= `round`.
bool AwaitRound(Process& p, int64_t round, Clock::time_point deadline) {
  for (;;) {
    const std::string line = p.AwaitLine("] round ", deadline);
    if (line.empty()) return false;
    if (std::stoll(line.substr(line.find("] round ") + 8)) >= round) return true;
  }
}

// Starts peers 0..count-1 (persisting; `extra`: further flags), waits for
// every one of them to print round `round` (by `deadline`) and kills them
// all with kill -9.
void StartAndKillAt(const std::string& run, const std::string& config, int64_t round,
                    Clock::time_point deadline, int count = kPeers,
                    const std::vector<std::string>& extra = {}) {
  std::vector<std::unique_ptr<Process>> peers = StartPeers(run, config, true, count, extra);
  ASSERT_EQ(peers.size(), static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(AwaitRound(*peers[i], round, deadline)) << "peer " << i << ":\n"
                                                        << peers[i]->log();
  }
  for (auto& p : peers) p->Kill9();
  for (auto& p : peers) (void)p->Wait(Clock::now() + std::chrono::seconds(10));
}

double MeanFinalAcc(const std::string& dir) {
  double sum = 0;
  for (int i = 0; i < kPeers; ++i) {
    const std::vector<Row> rows = ReadRows(dir + "/peer-" + std::to_string(i));
    EXPECT_FALSE(rows.empty());
    if (rows.empty()) return 0;
    EXPECT_EQ(rows.back().round, kRounds) << "peer " << i;
    sum += rows.back().acc;
  }
  return sum / kPeers;
}

TEST(PeerPersist, FourPeersKilledTogetherResumeFromTheirStateAndFinish) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string root = murmur::testing::FreshTempDir("PeerPersist");
  const std::string base = root + "/base", run = root + "/run";
  std::filesystem::create_directories(base);
  std::filesystem::create_directories(run);
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(base + "/network.key").ok());
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(run + "/network.key").ok());

  // The uninterrupted run.
  {
    std::vector<std::unique_ptr<Process>> peers = StartPeers(base, WriteConfig(base), false);
    ASSERT_EQ(peers.size(), static_cast<size_t>(kPeers));
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (int i = 0; i < kPeers; ++i) {
      ASSERT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
    }
  }
  const double base_acc = MeanFinalAcc(base);

  // The persisted run, killed whole past kKillAfter.
  const std::string config = WriteConfig(run);
  ASSERT_NO_FATAL_FAILURE(
      StartAndKillAt(run, config, kKillAfter, Clock::now() + std::chrono::seconds(60)));
  std::vector<int64_t> persisted(kPeers);
  std::vector<std::vector<Row>> rows_before(kPeers);
  for (int i = 0; i < kPeers; ++i) {
    const std::string peer_dir = run + "/peer-" + std::to_string(i);
    persisted[i] = PersistedRound(peer_dir);
    rows_before[i] = ReadRows(peer_dir);
    std::fprintf(stderr, "peer %d: killed with its state of round %lld, %zu rows (last %lld)\n",
                 i, static_cast<long long>(persisted[i]), rows_before[i].size(),
                 static_cast<long long>(rows_before[i].back().round));
    // Every peer persisted at round 60 before printing round 65's row.
    EXPECT_GE(persisted[i], kKillAfter / kPersistEvery * kPersistEvery);
    EXPECT_EQ(persisted[i] % kPersistEvery, 0);
    EXPECT_FALSE(std::filesystem::exists(peer_dir + "/peer_state.bin.tmp"));
  }

  // The restart: the same commands.
  std::vector<std::unique_ptr<Process>> peers = StartPeers(run, config, true);
  ASSERT_EQ(peers.size(), static_cast<size_t>(kPeers));
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kPeers; ++i) {
    // Printed before its listening line, which peer 0's start already read.
    const size_t seen = peers[i]->log().find("resumed at round ");
    const std::string line = seen != std::string::npos
                                 ? peers[i]->log().substr(seen)
                                 : peers[i]->AwaitLine("resumed at round ", deadline);
    ASSERT_FALSE(line.empty()) << "peer " << i << ":\n" << peers[i]->log();
    EXPECT_EQ(std::stoll(line.substr(line.find("resumed at round ") + 17)), persisted[i]);
  }
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  const bool all_alike = std::equal(persisted.begin() + 1, persisted.end(), persisted.begin());
  for (int i = 0; i < kPeers; ++i) {
    const std::vector<Row> rows = ReadRows(run + "/peer-" + std::to_string(i));
    // The first life's rows through the saved round stay as they were, and
    // its rows after it (written again by the second life) are gone.
    size_t kept = 0;
    while (kept < rows_before[i].size() && rows_before[i][kept].round <= persisted[i]) ++kept;
    ASSERT_GT(rows.size(), kept) << "peer " << i;
    for (size_t k = 0; k < kept; ++k) {
      EXPECT_EQ(rows[k].round, rows_before[i][k].round) << "peer " << i << " row " << k;
      EXPECT_EQ(rows[k].acc, rows_before[i][k].acc) << "peer " << i << " row " << k;
    }
    // Peers resumed at one round go on together: none catches up by a jump.
    ExpectEachRowOnce(rows, persisted[i], kRounds, all_alike, "peer " + std::to_string(i));
  }
  const double run_acc = MeanFinalAcc(run);
  std::fprintf(stderr, "final mean accuracy: uninterrupted %.4f, killed and resumed %.4f\n",
               base_acc, run_acc);
  EXPECT_GE(run_acc, base_acc - kAccTolerance);
  if (!HasFailure()) std::filesystem::remove_all(root);
}

// The pid of the `murmur peer` process whose --out is `peer_dir` (from
// /proc/*/cmdline); -1 if none.
pid_t PeerPid(const std::string& peer_dir) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = murmur::testing::ReadFile(entry.path().string() + "/cmdline");
    std::vector<std::string> argv;
    for (size_t at = 0; at < cmdline.size();) {
      const size_t end = cmdline.find('\0', at);
      argv.push_back(cmdline.substr(at, end == std::string::npos ? std::string::npos : end - at));
      if (end == std::string::npos) break;
      at = end + 1;
    }
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--out" && argv[i + 1] == peer_dir &&
          std::find(argv.begin(), argv.end(), "peer") != argv.end()) {
        return static_cast<pid_t>(std::stol(name));
      }
    }
  }
  return -1;
}

// `murmur launch --persist-every`: the launcher passes the flag to its peers
// (each keeps peer_state.bin in its own peer-I/) and starts a peer killed
// with kill -9 again; the new process resumes at the round its state file
// holds, and the launch finishes every round and exits 0. The run is long
// (kLaunchRounds) so that the others are still going when the restarted
// process (seconds to start) comes back.
TEST(PeerPersist, LaunchRestartsAKilledPeerFromItsState) {
  constexpr int kLaunchRounds = 1500;
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string dir = murmur::testing::FreshTempDir("PeerPersistLaunch");
  const std::string config = WriteConfig(dir);
  const std::string out = dir + "/out", victim = out + "/peer-2";
  Process launch({murmur::testing::MurmurBin(), "launch", std::to_string(kPeers), config, "--out",
                  out, "--persist-every", std::to_string(kPersistEvery), "--set",
                  "protocol.rounds=" + std::to_string(kLaunchRounds)});
  // No line says which round peer 2 persisted: its state file is polled.
  const auto deadline = Clock::now() + std::chrono::seconds(180);
  while (PersistedRound(victim) < kKillAfter / kPersistEvery * kPersistEvery &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const pid_t pid = PeerPid(victim);
  ASSERT_GT(pid, 0) << launch.log();
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // The file cannot change once the process is dead (it may have persisted
  // again between the poll and the kill).
  const int pidfd = murmur::testing::PidFd(pid);
  ASSERT_GE(pidfd, 0);
  pollfd dead{.fd = pidfd, .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&dead, 1, 10000), 1);
  ::close(pidfd);
  const int64_t persisted = PersistedRound(victim);
  std::fprintf(stderr, "peer 2 killed with its state of round %lld\n",
               static_cast<long long>(persisted));
  ASSERT_GE(persisted, kKillAfter / kPersistEvery * kPersistEvery);
  ASSERT_LT(persisted, kLaunchRounds) << "peer 2 finished before the kill";
  EXPECT_FALSE(launch.AwaitLine("peer 2 was killed by signal 9; restarted it", deadline).empty())
      << launch.log();
  EXPECT_EQ(launch.Wait(deadline), 0) << launch.log();
  const std::string log = murmur::testing::ReadFile(victim + "/log.txt");
  EXPECT_NE(log.find("resumed at round " + std::to_string(persisted) + " from " + victim),
            std::string::npos)
      << log;
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(ReadRows(out + "/peer-" + std::to_string(i)).back().round, kLaunchRounds)
        << "peer " << i;
  }
  // Its rows after the save were cut back and not written twice (it may
  // catch up to the others by a jump: gaps after the saved round are fine).
  ExpectEachRowOnce(ReadRows(victim), persisted, kLaunchRounds, false, "peer 2");
  EXPECT_EQ(ReadRows(out).back().round, kLaunchRounds);
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// Gossip learning persists its node's snapshot (Node::Save: its cycle, the
// cycles it served, its queue) with the learner. Four gossip peers are
// killed together past cycle kKillAfter and restarted: each resumes at its
// saved cycle, from its restored node (its second life sends one model per
// cycle left, not per cycle of the run: a node started afresh would count
// its cycles from 0), writes each row once with none missing (gossip never
// jumps) and finishes.
TEST(PeerPersist, GossipPeersResumeFromTheirNodeSnapshots) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string run = murmur::testing::FreshTempDir("PeerPersistGossip");
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(run + "/network.key").ok());
  const std::string config = WriteConfig(
      run, "kind = \"gossip\"\ntopology = \"full\"\ngossip_period_s = 0.02");
  ASSERT_NO_FATAL_FAILURE(
      StartAndKillAt(run, config, kKillAfter, Clock::now() + std::chrono::seconds(60)));
  std::vector<int64_t> persisted(kPeers);
  for (int i = 0; i < kPeers; ++i) {
    persisted[i] = PersistedRound(run + "/peer-" + std::to_string(i));
    EXPECT_GE(persisted[i], kKillAfter / kPersistEvery * kPersistEvery) << "peer " << i;
    EXPECT_LT(persisted[i], kRounds) << "peer " << i;
  }
  std::vector<std::unique_ptr<Process>> peers = StartPeers(run, config, true);
  ASSERT_EQ(peers.size(), static_cast<size_t>(kPeers));
  const auto deadline = Clock::now() + std::chrono::seconds(90);
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
    EXPECT_NE(peers[i]->log().find("resumed at round " + std::to_string(persisted[i])),
              std::string::npos)
        << peers[i]->log();
  }
  for (int i = 0; i < kPeers; ++i) {
    const std::string peer_dir = run + "/peer-" + std::to_string(i);
    ExpectEachRowOnce(ReadRows(peer_dir), persisted[i], kRounds, true, "peer " + std::to_string(i));
    std::ifstream in(peer_dir + "/summary.json");
    const auto summary = nlohmann::json::parse(in, nullptr, false);
    ASSERT_TRUE(summary.is_object()) << peer_dir;
    const int64_t sent = summary.value("msgs_sent", int64_t{-1});
    std::fprintf(stderr, "gossip peer %d: resumed at cycle %lld, sent %lld messages after\n", i,
                 static_cast<long long>(persisted[i]), static_cast<long long>(sent));
    EXPECT_GE(sent, kRounds - persisted[i]) << "peer " << i;
    EXPECT_LT(sent, kRounds - persisted[i] + 20) << "peer " << i;
  }
  // Metrics files shorter than the state records (rows lost after the
  // save): the restart is refused (exit 2) and changes nothing.
  const std::string peer0 = run + "/peer-0";
  const std::string jsonl = murmur::testing::ReadFile(peer0 + "/metrics.jsonl");
  const std::string cut = jsonl.substr(0, jsonl.size() / 2);
  std::ofstream(peer0 + "/metrics.jsonl", std::ios::binary | std::ios::trunc) << cut;
  std::string args;
  for (const std::string& a : PeerArgs(run, config, 0, "", true)) {
    if (!args.empty() || a != murmur::testing::MurmurBin()) args += " " + a;
  }
  const murmur::testing::CliOutcome shorter = murmur::testing::RunMurmur(args);
  EXPECT_EQ(shorter.exit_code, 2) << shorter.output;
  EXPECT_NE(shorter.output.find("metrics.jsonl' (" + std::to_string(cut.size()) +
                                " bytes) is shorter than"),
            std::string::npos)
      << shorter.output;
  EXPECT_EQ(murmur::testing::ReadFile(peer0 + "/metrics.jsonl"), cut);
  if (!HasFailure()) std::filesystem::remove_all(run);
}

// The other round-synchronous protocols that persist (docs/runtime.md):
// kPeers peers of `protocol` (its [protocol] keys; `extra`: further
// sections) persist every kPersistEvery rounds and are killed together with
// kill -9 once every one has printed round kKillAfter, then restarted with
// the same commands. A round timeout far longer than a restart
// (kTogetherTimeoutS): every model is waited for and, over TCP, delivered,
// so a run is deterministic. Each peer must say it resumed
// at the round its state holds, finish and exit 0, and write each row once
// with none missing (these protocols never jump). Peers resumed at one
// round (the kill fell between two saves of theirs) send the rounds after
// it again, so the final accuracy and loss of every peer must equal those
// of the same run uninterrupted, measured first here: what a peer persists
// (its learner and its round) is all it needs.
void ExpectKilledTogetherResumeAsUninterrupted(const std::string& name,
                                               const std::string& protocol,
                                               const std::string& extra = "") {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string root = murmur::testing::FreshTempDir(name);
  const std::string base = root + "/base", run = root + "/run";
  for (const std::string& dir : {base, run}) {
    std::filesystem::create_directories(dir);
    ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(dir + "/network.key").ok());
  }
  {
    std::vector<std::unique_ptr<Process>> peers =
        StartPeers(base, WriteConfig(base, protocol, kTogetherTimeoutS, extra), false);
    ASSERT_EQ(peers.size(), static_cast<size_t>(kPeers));
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (int i = 0; i < kPeers; ++i) {
      ASSERT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
    }
  }
  // The kill must fall between two saves of every peer: a peer resumed a
  // save behind would wait out a round timeout per round until it caught
  // up. Killed again (from scratch) until it does, at most 3 times.
  std::string config;
  std::vector<int64_t> persisted(kPeers);
  bool all_alike = false;
  for (int attempt = 0; attempt < 3 && !all_alike; ++attempt) {
    std::filesystem::remove_all(run);
    std::filesystem::create_directories(run);
    ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(run + "/network.key").ok());
    config = WriteConfig(run, protocol, kTogetherTimeoutS, extra);
    ASSERT_NO_FATAL_FAILURE(
        StartAndKillAt(run, config, kKillAfter, Clock::now() + std::chrono::seconds(60)));
    for (int i = 0; i < kPeers; ++i) {
      persisted[i] = PersistedRound(run + "/peer-" + std::to_string(i));
      EXPECT_GE(persisted[i], kKillAfter / kPersistEvery * kPersistEvery) << "peer " << i;
      EXPECT_EQ(persisted[i] % kPersistEvery, 0) << "peer " << i;
      EXPECT_LT(persisted[i], kRounds) << "peer " << i;
    }
    all_alike = std::equal(persisted.begin() + 1, persisted.end(), persisted.begin());
  }
  ASSERT_TRUE(all_alike) << "3 kills each left states of different rounds";
  std::vector<std::unique_ptr<Process>> peers = StartPeers(run, config, true);
  ASSERT_EQ(peers.size(), static_cast<size_t>(kPeers));
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
    EXPECT_NE(peers[i]->log().find("resumed at round " + std::to_string(persisted[i]) + " from"),
              std::string::npos)
        << peers[i]->log();
  }
  for (int i = 0; i < kPeers; ++i) {
    const std::string who = name + " peer " + std::to_string(i);
    const std::vector<Row> rows = ReadRows(run + "/peer-" + std::to_string(i));
    ExpectEachRowOnce(rows, persisted[i], kRounds, true, who);
    const std::vector<Row> base_rows = ReadRows(base + "/peer-" + std::to_string(i));
    ASSERT_FALSE(rows.empty() || base_rows.empty()) << who;
    std::fprintf(stderr, "%s: resumed at round %lld, final accuracy %.4f loss %.9f "
                 "(uninterrupted %.4f, %.9f)\n",
                 who.c_str(), static_cast<long long>(persisted[i]), rows.back().acc,
                 rows.back().loss, base_rows.back().acc, base_rows.back().loss);
    EXPECT_EQ(rows.back().acc, base_rows.back().acc) << who;
    EXPECT_EQ(rows.back().loss, base_rows.back().loss) << who;
  }
  const double base_acc = MeanFinalAcc(base), run_acc = MeanFinalAcc(run);
  std::fprintf(stderr, "%s final mean accuracy: uninterrupted %.4f, killed and resumed %.4f\n",
               name.c_str(), base_acc, run_acc);
  EXPECT_NEAR(run_acc, base_acc, kAccTolerance);
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(root);
}

TEST(PeerPersist, EpidemicPeersKilledTogetherResumeAsUninterrupted) {
  ExpectKilledTogetherResumeAsUninterrupted("PeerPersistEpidemic",
                                            "kind = \"epidemic\"\nepidemic_fanout = 2");
}

TEST(PeerPersist, DfedsamPeersKilledTogetherResumeAsUninterrupted) {
  ExpectKilledTogetherResumeAsUninterrupted(
      "PeerPersistDfedsam", "kind = \"dfedsam\"\ntopology = \"ring\"\ngossip_steps = 2",
      "[train]\nsam_rho = 0.05\n");
}

int64_t CounterOf(const std::string& peer_dir, const std::string& name) {
  std::ifstream in(peer_dir + "/summary.json");
  const auto summary = nlohmann::json::parse(in, nullptr, false);
  if (!summary.is_object() || !summary.contains("counters")) return -1;
  return summary["counters"].value(name, int64_t{0});
}

// Peers killed around a persisted round boundary resume from states of
// different rounds. Made deliberately here: all four persist round 60 and
// are killed; peers 0 and 1 alone run on to round 80 and are killed again;
// then all four restart, 0 and 1 at round 80, 2 and 3 at round 60. The two
// behind must not wait for the two ahead (whose models of their rounds
// never come) and the two ahead catch their models up: the restarted run
// finishes with few round timeouts, where waiting would cost one per round
// for every peer (~900 here).
TEST(PeerPersist, PeersResumedTwentyRoundsApartGetBackInStep) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string run = murmur::testing::FreshTempDir("PeerPersistApart");
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(run + "/network.key").ok());
  const std::string config = WriteConfig(run);
  auto deadline = Clock::now() + std::chrono::seconds(60);
  ASSERT_NO_FATAL_FAILURE(StartAndKillAt(run, config, kKillAfter, deadline));
  // The kill lands some rounds after kKillAfter (sooner or later with the
  // machine's speed), so the second phase counts from what was persisted.
  int64_t first = 0;
  for (int i = 0; i < kPeers; ++i) {
    first = std::max(first, PersistedRound(run + "/peer-" + std::to_string(i)));
  }
  // Peers 0 and 1 on their own (not waiting for the full mesh), past the
  // next persisted boundary.
  ASSERT_NO_FATAL_FAILURE(StartAndKillAt(run, config, first + kPersistEvery + 5, deadline, 2,
                                         {"--start-timeout", "0.5"}));
  std::vector<int64_t> persisted(kPeers);
  for (int i = 0; i < kPeers; ++i) persisted[i] = PersistedRound(run + "/peer-" + std::to_string(i));
  ASSERT_GE(std::min(persisted[0], persisted[1]), std::max(persisted[2], persisted[3]) + 20);

  const auto restarted = Clock::now();
  std::vector<std::unique_ptr<Process>> peers = StartPeers(run, config, true);
  ASSERT_EQ(peers.size(), static_cast<size_t>(kPeers));
  deadline = Clock::now() + std::chrono::seconds(60);
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  const double took_s = std::chrono::duration<double>(Clock::now() - restarted).count();
  int64_t timeouts = 0;
  for (int i = 0; i < kPeers; ++i) {
    const std::string peer_dir = run + "/peer-" + std::to_string(i);
    timeouts += CounterOf(peer_dir, "dpsgd.round_timeouts");
    EXPECT_EQ(ReadRows(peer_dir).back().round, kRounds) << "peer " << i;
    ExpectEachRowOnce(ReadRows(peer_dir), persisted[i], kRounds, false,
                      "peer " + std::to_string(i));
  }
  std::fprintf(stderr, "resumed at rounds %lld %lld %lld %lld: finished %.1f s after the restart "
               "with %lld round timeouts (all peers)\n",
               static_cast<long long>(persisted[0]), static_cast<long long>(persisted[1]),
               static_cast<long long>(persisted[2]), static_cast<long long>(persisted[3]),
               took_s, static_cast<long long>(timeouts));
  EXPECT_LT(timeouts, 100);
  if (!HasFailure()) std::filesystem::remove_all(run);
}

// DIR/NAME.toml: 4 peers of logistic regression on synthetic data, with
// `protocol_keys` in [protocol] (and any sections after them).
std::string SmallConfig(const std::string& dir, const std::string& name,
                        const std::string& protocol_keys) {
  const std::string path = dir + "/" + name + ".toml";
  std::ofstream(path) << "peers = 4\n[data]\ndataset = \"synthetic\"\n"
                      << "[model]\nkind = \"logreg\"\n[protocol]\n" << protocol_keys;
  return path;
}

// `murmur ARGS` exits 2 and says `message`.
void ExpectExit2With(const std::string& args, const std::string& message) {
  const murmur::testing::CliOutcome outcome = murmur::testing::RunMurmur(args);
  EXPECT_EQ(outcome.exit_code, 2) << args << "\n" << outcome.output;
  EXPECT_NE(outcome.output.find(message), std::string::npos) << args << "\n" << outcome.output;
}

TEST(PeerPersist, RefusesAnotherProtocolAnotherRunAndACorruptState) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string dir = murmur::testing::FreshTempDir("PeerPersistRefusals");
  const std::string config = WriteConfig(dir);
  const std::string flags = " --insecure --key " + dir + "/key --index 0 --persist-every 5";
  const std::string peer = " peer " + config + flags + " --out ";

  const std::string fedbuff_config = SmallConfig(dir, "fedbuff", "kind = \"fedbuff\"\n");
  ExpectExit2With(" peer " + fedbuff_config + flags + " --out " + dir + "/fedbuff",
                  "--persist-every: protocol.kind = \"fedbuff\" cannot persist");

  // SGP cannot persist over the runtime (push-sum mass lost to a peer down
  // or behind, sgp.h); Epidemic only with a round timeout.
  ExpectExit2With(" peer " + SmallConfig(dir, "sgp", "kind = \"sgp\"\n") + flags + " --out " +
                      dir + "/sgp",
                  "protocol.kind = \"sgp\" cannot persist");
  ExpectExit2With(" peer " +
                      SmallConfig(dir, "epidemic", "kind = \"epidemic\"\nround_timeout_s = 0\n") +
                      flags + " --out " + dir + "/epidemic",
                  "with protocol.round_timeout_s = 0");

  // D-PSGD persists by round (learner and round only): not with SybilWall,
  // whose update histories a restarted peer would lose. A peer that is not
  // refused starts alone after 1 s and runs its 2 rounds.
  ExpectExit2With(" peer " +
                      SmallConfig(dir, "sybilwall",
                                  "kind = \"dpsgd\"\nrounds = 2\n[robust]\nrule = \"sybilwall\"\n") +
                      flags + " --start-timeout 1 --out " + dir + "/sybilwall",
                  "state cannot be saved");

  // `murmur launch` refuses it before starting any peer.
  ExpectExit2With(" launch 4 " + fedbuff_config + " --persist-every 5 --out " + dir + "/launch",
                  "protocol.kind = \"fedbuff\" cannot persist");

  // FedAvg persists, but not with state its snapshots cannot hold
  // (compression here): refused, naming the protocol and the key, by a
  // peer and by `murmur launch` before it starts any.
  const std::string coded_config =
      SmallConfig(dir, "fedavg_coded", "kind = \"fedavg\"\n[compress]\nuplink = \"topk:0.1\"\n");
  ExpectExit2With(" peer " + coded_config + flags + " --out " + dir + "/coded",
                  "protocol.kind = \"fedavg\" with compress.uplink or downlink");
  ExpectExit2With(
      " launch 4 " + coded_config + " --persist-every 5 --out " + dir + "/coded_launch",
      "with compress.uplink or downlink");
  EXPECT_FALSE(std::filesystem::exists(dir + "/coded_launch/peer-0/key"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/launch/peer-0/key"));

  const murmur::testing::CliOutcome no_out =
      murmur::testing::RunMurmur(" peer " + config + flags);
  EXPECT_EQ(no_out.exit_code, 2) << no_out.output;
  EXPECT_NE(no_out.output.find("needs --out"), std::string::npos) << no_out.output;

  // A state file of another run (another seed) in --out.
  const std::string other = dir + "/other";
  std::filesystem::create_directories(other);
  std::string state;
  state.append("MURMPEER");
  const uint32_t version = 2, slot = 0;
  // Version 2: after the round, the metrics files' lengths, then the
  // learner's and the node's bodies (empty here).
  const uint64_t hash = 42, round = 5, jsonl = 0, csv = 0, learner = 0, node = 0;
  state.append(reinterpret_cast<const char*>(&version), 4);
  state.append(reinterpret_cast<const char*>(&hash), 8);
  state.append(reinterpret_cast<const char*>(&slot), 4);
  for (const uint64_t* v : {&round, &jsonl, &csv, &learner, &node}) {
    state.append(reinterpret_cast<const char*>(v), 8);
  }
  // FNV-1a 64 of the bytes before it, as the file format says.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : state) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  state.append(reinterpret_cast<const char*>(&h), 8);
  std::ofstream(other + "/peer_state.bin", std::ios::binary) << state;
  const murmur::testing::CliOutcome other_run = murmur::testing::RunMurmur(peer + other);
  EXPECT_EQ(other_run.exit_code, 2) << other_run.output;
  EXPECT_NE(other_run.output.find("belongs to another run"), std::string::npos)
      << other_run.output;

  // The same file truncated, and with a flipped byte.
  std::ofstream(other + "/peer_state.bin", std::ios::binary) << state.substr(0, 30);
  const murmur::testing::CliOutcome truncated = murmur::testing::RunMurmur(peer + other);
  EXPECT_EQ(truncated.exit_code, 2) << truncated.output;
  EXPECT_NE(truncated.output.find("peer_state.bin"), std::string::npos) << truncated.output;
  std::string flipped = state;
  flipped[20] ^= 1;
  std::ofstream(other + "/peer_state.bin", std::ios::binary) << flipped;
  const murmur::testing::CliOutcome corrupt = murmur::testing::RunMurmur(peer + other);
  EXPECT_EQ(corrupt.exit_code, 2) << corrupt.output;
  EXPECT_NE(corrupt.output.find("checksum mismatch"), std::string::npos) << corrupt.output;
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// FedAvg under `murmur launch --persist-every`: kFedAvgPeers clients and
// the server (slot kFedAvgPeers). No round timeout, full participation.
constexpr int kFedAvgPeers = 4;
constexpr int kFedAvgRounds = 400;
// A killed client's run is longer: the server must still be running when
// the restarted client (seconds to start) comes back.
constexpr int kFedAvgClientRounds = 1500;

std::string WriteFedAvgConfig(const std::string& dir, int rounds) {
  const std::string path = dir + "/fedavg.toml";
  std::ofstream(path) << "seed = 7\npeers = " << kFedAvgPeers << "\nthreads = 1\n"
                      << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 800\n"
                      << "synthetic_test = 200\nsynthetic_noise = 1.5\n[model]\nkind = \"logreg\"\n"
                      << "[train]\nbatch_size = 50\n[protocol]\nkind = \"fedavg\"\n"
                      << "rounds = " << rounds << "\nround_timeout_s = 0\n"
                      << "[eval]\nevery = " << kEvalEvery << "\n";
  return path;
}

// Launches the FedAvg run into `out` (with --persist-every when `persist`)
// and waits for it; returns the server's final row (round -1 on failure).
Row UninterruptedFedAvg(const std::string& config, const std::string& out, int rounds,
                              bool persist) {
  std::vector<std::string> argv = {murmur::testing::MurmurBin(), "launch",
                                   std::to_string(kFedAvgPeers), config, "--out", out};
  if (persist) argv.insert(argv.end(), {"--persist-every", std::to_string(kPersistEvery)});
  Process launch(argv);
  const int rc = launch.Wait(Clock::now() + std::chrono::seconds(180));
  EXPECT_EQ(rc, 0) << launch.log();
  const std::vector<Row> rows = ReadRows(out + "/peer-" + std::to_string(kFedAvgPeers));
  if (rc != 0 || rows.empty()) return {-1, 0, 0};
  EXPECT_EQ(rows.back().round, rounds);
  return rows.back();
}

// Kills `murmur launch`'s peer `victim` (its dir) with kill -9 once its
// state is of round kKillAfter / kPersistEvery * kPersistEvery or later;
// returns the round of the state it was killed with (-1 on failure, or
// when `launch` ended first: it refused the flag).
int64_t KillOnceItPersisted(Process& launch, const std::string& victim) {
  const auto deadline = Clock::now() + std::chrono::seconds(180);
  while (PersistedRound(victim) < kKillAfter / kPersistEvery * kPersistEvery &&
         Clock::now() < deadline) {
    if (!launch.ReadAvailable()) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const pid_t pid = PeerPid(victim);
  EXPECT_GT(pid, 0);
  if (pid <= 0 || ::kill(pid, SIGKILL) != 0) return -1;
  const int pidfd = murmur::testing::PidFd(pid);
  if (pidfd >= 0) {
    pollfd dead{.fd = pidfd, .events = POLLIN, .revents = 0};
    EXPECT_EQ(::poll(&dead, 1, 10000), 1);
    ::close(pidfd);
  }
  return PersistedRound(victim);
}

// Every evaluated round of the server's rows, and of the launch's merged
// rows, exactly once, in order, 0 to `rounds`.
void ExpectFedAvgRowsOnce(const std::string& out, int rounds) {
  for (const std::string& dir : {out + "/peer-" + std::to_string(kFedAvgPeers), out}) {
    const std::vector<Row> rows = ReadRows(dir);
    ASSERT_EQ(rows.size(), static_cast<size_t>(rounds / kEvalEvery + 1)) << dir;
    for (size_t k = 0; k < rows.size(); ++k) {
      EXPECT_EQ(rows[k].round, static_cast<int64_t>(k) * kEvalEvery) << dir << " row " << k;
    }
  }
}

// The FedAvg server persists its node's snapshot (its round, global model,
// server optimizer) and is killed with kill -9 past round kKillAfter; the
// launcher restarts it, it resumes at its saved round r and sends round
// r + 1's global model again to the clients, which kept running (those
// that trained rounds past r with the killed server train them again). The
// run finishes, every row once, no client is reported as a bad peer (a
// client answering the resent round twice is not one), its second life
// sends the globals of the rounds after r only, and the final accuracy is
// within kAccTolerance of the same launch uninterrupted (which is
// deterministic: no timeouts, full participation): not asserted equal,
// since the clients that trained rounds r + 1 and later for the killed
// server train them again from later points of their sample streams.
TEST(PeerPersist, LaunchedFedAvgServerKilledResumesAtItsSavedRound) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string dir = murmur::testing::FreshTempDir("PeerPersistFedAvgServer");
  const std::string config = WriteFedAvgConfig(dir, kFedAvgRounds);
  const Row base = UninterruptedFedAvg(config, dir + "/base", kFedAvgRounds, true);
  ASSERT_EQ(base.round, kFedAvgRounds);
  const std::string out = dir + "/out", victim = out + "/peer-" + std::to_string(kFedAvgPeers);
  Process launch({murmur::testing::MurmurBin(), "launch", std::to_string(kFedAvgPeers), config,
                  "--out", out, "--persist-every", std::to_string(kPersistEvery)});
  const int64_t persisted = KillOnceItPersisted(launch, victim);
  std::fprintf(stderr, "FedAvg server killed with its state of round %lld\n",
               static_cast<long long>(persisted));
  ASSERT_GE(persisted, kKillAfter / kPersistEvery * kPersistEvery) << launch.log();
  ASSERT_LT(persisted, kFedAvgRounds) << "the server finished before the kill";
  const auto deadline = Clock::now() + std::chrono::seconds(180);
  EXPECT_FALSE(launch.AwaitLine("peer " + std::to_string(kFedAvgPeers) +
                                    " was killed by signal 9; restarted it",
                                deadline)
                   .empty())
      << launch.log();
  EXPECT_EQ(launch.Wait(deadline), 0) << launch.log();
  const std::string log = murmur::testing::ReadFile(victim + "/log.txt");
  EXPECT_NE(log.find("resumed at round " + std::to_string(persisted) + " from " + victim),
            std::string::npos)
      << log;
  ExpectFedAvgRowsOnce(out, kFedAvgRounds);
  EXPECT_EQ(CounterOf(victim, "net.bad_peer_reports"), 0);
  // Its second life sent each client one global model per round left: it
  // went on from its restored round (a server started afresh would send
  // kFedAvgRounds per client).
  std::ifstream in(victim + "/summary.json");
  const auto summary = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(summary.is_object());
  EXPECT_EQ(summary.value("msgs_sent", int64_t{-1}), (kFedAvgRounds - persisted) * kFedAvgPeers);
  const Row run = ReadRows(victim).back();
  std::fprintf(stderr, "FedAvg final accuracy (loss): uninterrupted %.4f (%.9f), server killed "
               "and resumed at round %lld %.4f (%.9f) (resent rounds %lld, duplicate updates "
               "%lld)\n",
               base.acc, base.loss, static_cast<long long>(persisted), run.acc, run.loss,
               static_cast<long long>(CounterOf(out + "/peer-0", "fedavg.resent_rounds")),
               static_cast<long long>(CounterOf(victim, "fedavg.duplicate_updates")));
  EXPECT_NEAR(run.acc, base.acc, kAccTolerance);
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// A FedAvg client persists its learner after each persisted round's
// training and is killed with kill -9 past round kKillAfter; the server
// stops waiting for it (its connection closed) and goes on with the other
// clients. The launcher restarts it; it resumes at its saved round, gets
// the server's newest global models and answers again (its second life
// sends updates), and the run finishes with every row once. Its accuracy is
// within kAccTolerance of the uninterrupted launch: not equal, since the
// server averaged the rounds the client was down without it.
TEST(PeerPersist, LaunchedFedAvgClientKilledResumesAndRejoins) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string dir = murmur::testing::FreshTempDir("PeerPersistFedAvgClient");
  const std::string config = WriteFedAvgConfig(dir, kFedAvgClientRounds);
  const Row base = UninterruptedFedAvg(config, dir + "/base", kFedAvgClientRounds, false);
  ASSERT_EQ(base.round, kFedAvgClientRounds);
  const std::string out = dir + "/out", victim = out + "/peer-2";
  const std::string server = out + "/peer-" + std::to_string(kFedAvgPeers);
  Process launch({murmur::testing::MurmurBin(), "launch", std::to_string(kFedAvgPeers), config,
                  "--out", out, "--persist-every", std::to_string(kPersistEvery)});
  const int64_t persisted = KillOnceItPersisted(launch, victim);
  std::fprintf(stderr, "FedAvg client 2 killed with its state of round %lld\n",
               static_cast<long long>(persisted));
  ASSERT_GE(persisted, kKillAfter / kPersistEvery * kPersistEvery) << launch.log();
  ASSERT_LT(persisted, kFedAvgClientRounds) << "client 2 finished before the kill";
  const auto deadline = Clock::now() + std::chrono::seconds(180);
  EXPECT_FALSE(launch.AwaitLine("peer 2 was killed by signal 9; restarted it", deadline).empty())
      << launch.log();
  EXPECT_EQ(launch.Wait(deadline), 0) << launch.log();
  const std::string log = murmur::testing::ReadFile(victim + "/log.txt");
  EXPECT_NE(log.find("resumed at round " + std::to_string(persisted) + " from " + victim),
            std::string::npos)
      << log;
  ExpectFedAvgRowsOnce(out, kFedAvgClientRounds);
  std::ifstream in(victim + "/summary.json");
  const auto summary = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(summary.is_object());
  const int64_t sent = summary.value("msgs_sent", int64_t{-1});
  const Row run = ReadRows(server).back();
  std::fprintf(stderr, "FedAvg final accuracy (loss): uninterrupted %.4f (%.9f), client 2 killed "
               "and resumed at round %lld %.4f (%.9f) (its second life sent %lld messages; "
               "server: %lld clients down, %lld late replies)\n",
               base.acc, base.loss, static_cast<long long>(persisted), run.acc, run.loss,
               static_cast<long long>(sent),
               static_cast<long long>(CounterOf(server, "fedavg.clients_down")),
               static_cast<long long>(CounterOf(server, "fedavg.late_replies")));
  EXPECT_GT(sent, 0);
  EXPECT_GE(CounterOf(server, "fedavg.clients_down"), 1);
  EXPECT_NEAR(run.acc, base.acc, kAccTolerance);

  // Started again once the run is over (as `murmur launch` would restart it
  // if it were killed after its last save), from its state of the last
  // round: it has nothing left to do and exits at once, where it would
  // wait --start-timeout (60 s) for peers that are gone, then wait alone
  // for a server that never comes.
  ASSERT_EQ(PersistedRound(victim), kFedAvgClientRounds);
  const std::string metrics = murmur::testing::ReadFile(victim + "/metrics.jsonl");
  Process again({murmur::testing::MurmurBin(), "peer", out + "/config.toml", "--index", "2",
                 "--listen", "127.0.0.1:0", "--key", victim + "/key", "--network-key",
                 out + "/network.key", "--allow", out + "/allow.txt", "--out", victim,
                 "--persist-every", std::to_string(kPersistEvery)});
  EXPECT_EQ(again.Wait(Clock::now() + std::chrono::seconds(20)), 0) << again.log();
  EXPECT_NE(again.log().find("nothing left to do"), std::string::npos) << again.log();
  EXPECT_EQ(murmur::testing::ReadFile(victim + "/metrics.jsonl"), metrics);
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// One peer of a round-synchronous protocol killed alone under `murmur
// launch --persist-every`, the others going on without it (its connections
// closed: not waited for): the launcher restarts it, it resumes at its
// saved round, gets back to the others' round and the run finishes. Its
// rows are each once (it may jump: gaps after the saved round are fine);
// the mean final accuracy of the peers, and the restarted peer's own, are
// within kAccTolerance of the same launch uninterrupted (not equal: the
// others mixed without it while it was down). kLaunchRounds, as in
// LaunchRestartsAKilledPeerFromItsState, so that the others are still
// going when it comes back. `counter`: a counter of the restarted peer
// printed with the figures; `extra`: further config sections.
void ExpectLaunchedPeerKilledAloneResumes(const std::string& name, const std::string& protocol,
                                          const std::string& counter,
                                          const std::string& extra = "") {
  constexpr int kLaunchRounds = 1500;
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string dir = murmur::testing::FreshTempDir(name);
  const std::string config = WriteConfig(dir, protocol, 0.1, extra);
  const std::string rounds = "protocol.rounds=" + std::to_string(kLaunchRounds);
  const auto final_accs = [&](const std::string& out) {
    std::vector<double> accs;
    for (int i = 0; i < kPeers; ++i) {
      const std::vector<Row> rows = ReadRows(out + "/peer-" + std::to_string(i));
      EXPECT_FALSE(rows.empty()) << out << " peer " << i;
      if (rows.empty()) return std::vector<double>(kPeers, 0.0);
      EXPECT_EQ(rows.back().round, kLaunchRounds) << out << " peer " << i;
      accs.push_back(rows.back().acc);
    }
    return accs;
  };
  const auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return sum / static_cast<double>(v.size());
  };
  Process base({murmur::testing::MurmurBin(), "launch", std::to_string(kPeers), config, "--out",
                dir + "/base", "--set", rounds});
  ASSERT_EQ(base.Wait(Clock::now() + std::chrono::seconds(180)), 0) << base.log();
  const std::vector<double> base_accs = final_accs(dir + "/base");

  const std::string out = dir + "/out", victim = out + "/peer-2";
  Process launch({murmur::testing::MurmurBin(), "launch", std::to_string(kPeers), config, "--out",
                  out, "--persist-every", std::to_string(kPersistEvery), "--set", rounds});
  const int64_t persisted = KillOnceItPersisted(launch, victim);
  ASSERT_GE(persisted, kKillAfter / kPersistEvery * kPersistEvery) << launch.log();
  ASSERT_LT(persisted, kLaunchRounds) << "peer 2 finished before the kill";
  const auto deadline = Clock::now() + std::chrono::seconds(180);
  EXPECT_FALSE(launch.AwaitLine("peer 2 was killed by signal 9; restarted it", deadline).empty())
      << launch.log();
  EXPECT_EQ(launch.Wait(deadline), 0) << launch.log();
  const std::string log = murmur::testing::ReadFile(victim + "/log.txt");
  EXPECT_NE(log.find("resumed at round " + std::to_string(persisted) + " from " + victim),
            std::string::npos)
      << log;
  ExpectEachRowOnce(ReadRows(victim), persisted, kLaunchRounds, false, name + " peer 2");
  const std::vector<double> accs = final_accs(out);
  std::fprintf(stderr, "%s: peer 2 killed with its state of round %lld and restarted (%s %lld); "
               "final accuracy of peer 2 %.4f (uninterrupted %.4f), mean %.4f (uninterrupted "
               "%.4f)\n",
               name.c_str(), static_cast<long long>(persisted), counter.c_str(),
               static_cast<long long>(CounterOf(victim, counter)), accs[2], base_accs[2],
               mean(accs), mean(base_accs));
  EXPECT_NEAR(accs[2], base_accs[2], kAccTolerance);
  EXPECT_NEAR(mean(accs), mean(base_accs), kAccTolerance);
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

// Epidemic Learning and DFedSAM have no catch-up jump: the restarted peer
// trains the rounds it missed without waiting for senders already ahead.
TEST(PeerPersist, LaunchedEpidemicPeerKilledAloneResumesAndFinishes) {
  ExpectLaunchedPeerKilledAloneResumes("PeerPersistEpidemicAlone",
                                       "kind = \"epidemic\"\nepidemic_fanout = 2",
                                       "epidemic.round_timeouts");
}

TEST(PeerPersist, LaunchedDfedsamPeerKilledAloneResumesAndFinishes) {
  ExpectLaunchedPeerKilledAloneResumes("PeerPersistDfedsamAlone",
                                       "kind = \"dfedsam\"\ntopology = \"ring\"",
                                       "dfedsam.step_timeouts", "[train]\nsam_rho = 0.05\n");
}

// A FedAvg server restarted from its state of the last round (as `murmur
// launch` restarts one killed after its last save, before it said Bye) is
// the run's only model holder: its clients finish only once it said Bye.
// So it must not exit at once as a client with nothing left does: it waits
// for its clients' links, says Bye and exits, and the clients finish. Here
// a finished launch's server is started again from its state of the last
// round, with four clients of the same keys waiting for it (started
// afresh: to them a server that says Bye is as to clients at the end);
// each must exit 0 within kByeDeadline, and the server's rows stay as they
// were (none evaluated again).
TEST(PeerPersist, FedAvgServerRestartedAtTheLastRoundSaysByeToItsClients) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  constexpr int kRoundsHere = 20;
  constexpr auto kByeDeadline = std::chrono::seconds(40);  // below the 60 s start timeout
  const std::string dir = murmur::testing::FreshTempDir("PeerPersistFedAvgServerLast");
  const std::string config = WriteFedAvgConfig(dir, kRoundsHere);
  const std::string out = dir + "/out", server = out + "/peer-" + std::to_string(kFedAvgPeers);
  ASSERT_EQ(UninterruptedFedAvg(config, out, kRoundsHere, true).round, kRoundsHere);
  ASSERT_EQ(PersistedRound(server), kRoundsHere);
  const std::string metrics = murmur::testing::ReadFile(server + "/metrics.jsonl");
  auto peer = [&](int index, const std::string& out_dir) {
    return std::vector<std::string>{
        murmur::testing::MurmurBin(), "peer", out + "/config.toml", "--index",
        std::to_string(index), "--listen", "127.0.0.1:0", "--key",
        out + "/peer-" + std::to_string(index) + "/key", "--network-key", out + "/network.key",
        "--allow", out + "/allow.txt", "--out", out_dir};
  };
  std::vector<std::string> server_argv = peer(kFedAvgPeers, server);
  server_argv.insert(server_argv.end(), {"--persist-every", std::to_string(kPersistEvery)});
  Process restarted(server_argv);
  const std::string line =
      restarted.AwaitLine("listening on ", Clock::now() + std::chrono::seconds(60));
  ASSERT_FALSE(line.empty()) << restarted.log();
  const std::string address = line.substr(line.find("listening on ") + 13);
  std::vector<std::unique_ptr<Process>> clients;
  for (int i = 0; i < kFedAvgPeers; ++i) {
    const std::string client_dir = dir + "/client-" + std::to_string(i);
    std::filesystem::create_directories(client_dir);
    std::vector<std::string> argv = peer(i, client_dir);
    argv.insert(argv.end(), {"--bootstrap", address});
    clients.push_back(std::make_unique<Process>(argv));
  }
  const auto deadline = Clock::now() + kByeDeadline;
  for (int i = 0; i < kFedAvgPeers; ++i) {
    EXPECT_EQ(clients[i]->Wait(deadline), 0) << "client " << i << " (the server's Bye never "
                                             << "came?):\n" << clients[i]->log() << "\nserver:\n"
                                             << restarted.log();
  }
  EXPECT_EQ(restarted.Wait(Clock::now() + std::chrono::seconds(20)), 0) << restarted.log();
  EXPECT_NE(restarted.log().find("resumed at round " + std::to_string(kRoundsHere)),
            std::string::npos)
      << restarted.log();
  EXPECT_NE(restarted.log().find("saying bye to the peers that wait for it"), std::string::npos)
      << restarted.log();
  EXPECT_EQ(murmur::testing::ReadFile(server + "/metrics.jsonl"), metrics);
  EXPECT_EQ(PersistedRound(server), kRoundsHere);
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
