// DiLoCo and Streaming DiLoCo peers killed with kill -9 and started again
// over real `murmur peer` processes (4 peers, logistic regression on
// synthetic data). Without --rejoin (its original command line, as a
// supervisor restarts it) the restarted peer starts as a founder at round
// 0 with the initial model; its first message to a member (its Ready of
// epoch 0) is answered with Evicted (the members hold it dead and went
// on), and it rejoins as --rejoin does: it learns the step and the state
// from the members' hashes, pulls it, and contributes again. Before (main's
// build, 2026-12-06) a DiLoCo peer restarted so was readmitted at its own
// round 1 through the membership refutation, mixed stale pseudo-gradients
// into every step and slowed the group to one outer step per timeout
// (docs/protocols/diloco.md); Streaming DiLoCo refused --rejoin. Checked:
// every round's rows (each peer evaluates its own theta on the same test
// set) agree to the bit, the restarted run's included; it resynced at a
// step the others reached after it died and reported every round from
// there; its counters (one eviction without --rejoin, one rejoin, one
// pull, its outer steps) and the survivors' (no mismatch, no resync, no
// failed step, every outer step). Waits are on output lines, with
// deadlines.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "murmur/runtime/identity.h"
#include "runtime/diloco_peers.h"
#include "testing/cli_runner.h"

namespace {

using Clock = std::chrono::steady_clock;
using Process = murmur::testing::ChildProcess;
using Row = murmur::testing::DilocoRow;
using murmur::testing::AwaitListening;
using murmur::testing::DilocoPeerDir;
using murmur::testing::ReadDilocoCounters;
using murmur::testing::ReadDilocoRows;
using murmur::testing::Restart;
using murmur::testing::StartDilocoPeer;

constexpr int kPeers = 4;
constexpr int kVictim = 3;
constexpr int kObserver = 1;
constexpr int kRounds = 400;  // outer steps
constexpr int kKillAt = 20;   // the victim's round at the kill
constexpr int kOutage = 15;   // rounds the others complete while it is dead

// Streaming: H = 4, 2 fragments (offsets 0 and 2), an overlap of 1 step,
// 4-bit outer gradients (the defaults' width).
std::string WriteConfig(const std::string& dir, const std::string& kind,
                        const std::string& extra = "") {
  const std::string path = dir + "/restart.toml";
  std::ofstream(path) << "seed = 5\npeers = " << kPeers << "\nthreads = 1\n"
                      << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 800\n"
                      << "synthetic_test = 100\n[model]\nkind = \"logreg\"\n"
                      << "[train]\noptimizer = \"adam\"\nlr = 0.01\nbatch_size = 16\n"
                      << "[protocol]\nkind = \"" << kind << "\"\nrounds = " << kRounds
                      << "\nlocal_steps = " << (kind == "diloco" ? 5 : 4)
                      << "\nround_timeout_s = 1\n"
                      << (kind == "diloco" ? ""
                                           : "[streaming]\nfragments = 2\noverlap_steps = 1\n")
                      << extra << "[eval]\nevery = 1\n";
  return path;
}

int64_t NewestRound(Process& p) {
  (void)p.ReadAvailable();
  const size_t last = p.log().rfind("] round ");
  return last == std::string::npos ? -1 : std::stoll(p.log().substr(last + 8));
}

// Starts the 4 peers, kills the victim at its round kKillAt, waits for the
// others to go kOutage rounds on and starts it again (its original command
// line, plus --rejoin if asked). `killed_at`: the observer's round then.
void StartKillAndRestart(const std::string& dir, const std::string& config, Restart restart,
                         std::vector<std::unique_ptr<Process>>& peers, int64_t& killed_at) {
  peers.push_back(StartDilocoPeer(dir, config, 0, 0, ""));
  const std::string addr0 = AwaitListening(*peers[0], 0);
  ASSERT_FALSE(addr0.empty());
  for (int i = 1; i < kPeers; ++i) peers.push_back(StartDilocoPeer(dir, config, i, 0, addr0));
  for (int i = 1; i < kPeers; ++i) ASSERT_FALSE(AwaitListening(*peers[i], i).empty());

  const auto deadline = Clock::now() + std::chrono::seconds(90);
  ASSERT_FALSE(
      peers[kVictim]->AwaitLine("] round " + std::to_string(kKillAt) + " ", deadline).empty())
      << peers[kVictim]->log();
  peers[kVictim]->Kill9();
  killed_at = NewestRound(*peers[kObserver]);
  // The others go on without it (and hold it dead) before it comes back.
  ASSERT_FALSE(peers[kObserver]
                   ->AwaitLine("] round " + std::to_string(killed_at + kOutage) + " ", deadline)
                   .empty())
      << peers[kObserver]->log();
  peers[kVictim] = StartDilocoPeer(dir, config, kVictim, 1, addr0, restart);
  ASSERT_FALSE(AwaitListening(*peers[kVictim], kVictim).empty());
}

void KillAndRestart(const std::string& kind, Restart restart) {
  const bool diloco = kind == "diloco";
  const std::string prefix = diloco ? "diloco." : "streaming.";
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const auto started = Clock::now();
  const std::string dir = murmur::testing::FreshTempDir("Restart_" + kind);
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(dir + "/network.key").ok());
  const std::string config = WriteConfig(dir, kind);
  std::vector<std::unique_ptr<Process>> peers;
  int64_t killed_at = -1;
  StartKillAndRestart(dir, config, restart, peers, killed_at);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  const auto end_deadline = Clock::now() + std::chrono::seconds(120);
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(peers[i]->Wait(end_deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  // Every round's rows agree to the bit (each peer evaluates its own copy
  // of theta on the same test set), the restarted run's included.
  std::map<int64_t, std::vector<Row>> by_round;
  for (int i = 0; i < kPeers; ++i) {
    for (const Row& r : ReadDilocoRows(DilocoPeerDir(dir, i, 0))) by_round[r.round].push_back(r);
  }
  const std::vector<Row> restarted = ReadDilocoRows(DilocoPeerDir(dir, kVictim, 1));
  for (const Row& r : restarted) by_round[r.round].push_back(r);
  ASSERT_EQ(by_round.size(), static_cast<size_t>(kRounds + 1)) << "a round without a row";
  for (const auto& [round, rows] : by_round) {
    for (const Row& r : rows) {
      EXPECT_EQ(r.loss, rows[0].loss) << "round " << round;
      EXPECT_EQ(r.acc, rows[0].acc) << "round " << round;
    }
  }
  // The restarted run: round 0 when it started as a founder (with the
  // initial model), then from the step it resynced at, every round to the
  // end.
  const size_t first = restart == Restart::kPlain ? 1 : 0;
  ASSERT_GE(restarted.size(), first + 1);
  if (first == 1) EXPECT_EQ(restarted[0].round, 0);
  const int64_t resynced_at = restarted[first].round;
  EXPECT_GE(resynced_at, killed_at + kOutage);
  EXPECT_EQ(restarted.back().round, kRounds);
  EXPECT_EQ(restarted.size(), static_cast<size_t>(kRounds - resynced_at + 1) + first);

  // Its counters: evicted once when restarted plainly, rejoined and pulled
  // once, and its outer steps: DiLoCo's every round after the resync, each
  // averaging all 4; Streaming's every fragment exchange from the resync
  // step on (fragment 0's at that step included: the members compare
  // before starting it). The survivors never disagreed or resynced, took
  // every outer step, and (plainly restarted) one told it it was left out.
  auto c = ReadDilocoCounters(DilocoPeerDir(dir, kVictim, 1));
  EXPECT_EQ(c[prefix + "evictions"], restart == Restart::kPlain ? 1 : 0);
  EXPECT_EQ(c[prefix + "rejoins"], 1);
  EXPECT_EQ(c[prefix + "state_resyncs"], 1);
  EXPECT_EQ(c[diloco ? "diloco.failed_steps" : "streaming.failed_exchanges"], 0);
  const int64_t after = kRounds - resynced_at;
  EXPECT_EQ(c[prefix + "outer_steps"], diloco ? after : 2 * after + 1);
  if (diloco) EXPECT_EQ(c["diloco.aggregated_peers"], kPeers * after);
  int64_t notices = 0;
  for (int i = 0; i < kPeers - 1; ++i) {
    auto s = ReadDilocoCounters(DilocoPeerDir(dir, i, 0));
    EXPECT_EQ(s[prefix + "state_mismatches"], 0) << "peer " << i;
    EXPECT_EQ(s[prefix + "state_resyncs"], 0) << "peer " << i;
    EXPECT_EQ(s[diloco ? "diloco.failed_steps" : "streaming.failed_exchanges"], 0) << "peer " << i;
    EXPECT_EQ(s[prefix + "outer_steps"], diloco ? kRounds : 2 * kRounds) << "peer " << i;
    notices += s["collective.evicted_notices"];
  }
  if (restart == Restart::kPlain) EXPECT_GE(notices, 1);
  std::fprintf(stderr, "%s: killed at the observer's round %lld; restarted %s, resynced at "
               "round %lld, %.2f s after it started; %.1f s\n", kind.c_str(),
               static_cast<long long>(killed_at),
               restart == Restart::kPlain ? "without --rejoin" : "with --rejoin",
               static_cast<long long>(resynced_at), restarted[first].time_s, seconds);
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

TEST(DilocoRestart, APeerRestartedWithoutRejoinResyncsAndContributesAgain) {
  KillAndRestart("diloco", Restart::kPlain);
}

TEST(StreamingDilocoRestart, APeerRestartedWithRejoinResyncsAndContributesAgain) {
  KillAndRestart("streaming_diloco", Restart::kRejoin);
}

TEST(StreamingDilocoRestart, APeerRestartedWithoutRejoinResyncsAndContributesAgain) {
  KillAndRestart("streaming_diloco", Restart::kPlain);
}

// With diloco.check_state = false there are no hashes to learn the step
// from: the plainly restarted peer, told it was left out, stops, and its
// process says why and exits 1 (before: it stopped training but waited for
// its last round for ever, so `murmur launch` without --timeout hung); the
// others finish the run without it.
void EvictedWithoutHashes(const std::string& kind) {
  const std::string prefix = kind == "diloco" ? "diloco." : "streaming.";
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const std::string dir = murmur::testing::FreshTempDir("EvictedStop_" + kind);
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(dir + "/network.key").ok());
  const std::string config = WriteConfig(dir, kind, "[diloco]\ncheck_state = false\n");
  std::vector<std::unique_ptr<Process>> peers;
  int64_t killed_at = -1;
  StartKillAndRestart(dir, config, Restart::kPlain, peers, killed_at);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const auto end_deadline = Clock::now() + std::chrono::seconds(120);
  EXPECT_EQ(peers[kVictim]->Wait(end_deadline), 1) << peers[kVictim]->log();
  EXPECT_NE(peers[kVictim]->log().find("evicted by the other members and cannot resync: set "
                                       "diloco.check_state = true"),
            std::string::npos)
      << peers[kVictim]->log();
  for (int i = 0; i < kPeers - 1; ++i) {
    EXPECT_EQ(peers[i]->Wait(end_deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  auto c = ReadDilocoCounters(DilocoPeerDir(dir, kVictim, 1));
  EXPECT_EQ(c[prefix + "evictions"], 1);
  EXPECT_EQ(c[prefix + "evicted_stopped"], 1);
  EXPECT_EQ(c[prefix + "rejoins"], 0);
  for (int i = 0; i < kPeers - 1; ++i) {
    EXPECT_EQ(ReadDilocoRows(DilocoPeerDir(dir, i, 0)).back().round, kRounds) << "peer " << i;
  }
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir);
}

TEST(DilocoRestart, AnEvictedPeerThatCannotResyncExitsWithItsReason) {
  EvictedWithoutHashes("diloco");
}

TEST(StreamingDilocoRestart, AnEvictedPeerThatCannotResyncExitsWithItsReason) {
  EvictedWithoutHashes("streaming_diloco");
}

}  // namespace
