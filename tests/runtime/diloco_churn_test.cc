// Issue 16's runtime bar with real `murmur peer` processes: 8 DiLoCo peers
// (logistic regression on synthetic data, a few inner steps per outer
// step), one of them killed with kill -9 twice. While it is dead the seven
// others keep completing outer steps; after every outer step the peers'
// state hashes agree (no mismatch, no resync among the survivors, and every
// peer that evaluated a round's global model got bit-identical loss and
// accuracy for it); restarted with the same key and --rejoin, the killed
// peer is admitted, pulls the state at the step the others are at, and
// contributes to the following outer steps (its steps average 8
// pseudo-gradients, and the survivors' membership is back to 8). Waits are
// on lines of the peers' output, with deadlines.
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

constexpr int kPeers = 8;
constexpr int kVictim = 5;
constexpr int kObserver = 2;
constexpr int kRounds = 600;    // outer steps
constexpr int kKillAt = 20;     // the observer's round at the first kill
constexpr int kOutage = 15;     // rounds the others complete while it is dead
constexpr int kContribute = 15;  // rounds it completes between rejoin and the next kill

std::string WriteConfig(const std::string& dir) {
  const std::string path = dir + "/diloco_churn.toml";
  std::ofstream(path) << "seed = 3\npeers = " << kPeers << "\nthreads = 1\n"
                      << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 800\n"
                      << "synthetic_test = 100\n[model]\nkind = \"logreg\"\n"
                      << "[train]\noptimizer = \"adam\"\nlr = 0.01\nbatch_size = 16\n"
                      << "[protocol]\nkind = \"diloco\"\nrounds = " << kRounds
                      << "\nlocal_steps = 5\nround_timeout_s = 1\n"
                      << "[diloco]\nouter_lr = 0.7\nouter_momentum = 0.9\n"
                      << "[eval]\nevery = 1\n";
  return path;
}

int64_t RoundOfLine(const std::string& line) {
  const size_t at = line.find("] round ");
  return at == std::string::npos ? -1 : std::stoll(line.substr(at + 8));
}

// The round of the newest "] round " line `p` printed, once what its pipe
// holds is read (0.3 s of reading).
int64_t NewestRound(Process& p) {
  (void)p.AwaitLine("\x01", Clock::now() + std::chrono::milliseconds(300));
  const size_t last = p.log().rfind("] round ");
  return last == std::string::npos ? -1 : RoundOfLine(p.log().substr(last));
}

// Kills the victim once it printed round `kill_at`, waits for the others
// to complete kOutage more rounds, restarts it (--rejoin) and waits for its
// first row: the round it resynced at. Returns {the observer's round just
// after the kill, the round it resynced at}, or {-1, -1} on a failure
// (reported).
std::pair<int64_t, int64_t> KillAndRejoin(std::vector<std::unique_ptr<Process>>& peers,
                                          const std::string& dir, const std::string& config,
                                          const std::string& addr0, int64_t kill_at,
                                          int incarnation) {
  const auto deadline = Clock::now() + std::chrono::seconds(90);
  Process& victim = *peers[kVictim];
  if (victim.AwaitLine("] round " + std::to_string(kill_at) + " ", deadline).empty()) {
    ADD_FAILURE() << "the victim did not reach round " << kill_at << ":\n" << victim.log();
    return {-1, -1};
  }
  peers[kVictim]->Kill9();
  Process& observer = *peers[kObserver];
  const int64_t killed_at = NewestRound(observer);
  // (a) The others go on without it.
  const int64_t resume = killed_at + kOutage;
  if (observer.AwaitLine("] round " + std::to_string(resume) + " ", deadline).empty()) {
    ADD_FAILURE() << "no progress after the kill at round " << killed_at << ":\n"
                  << observer.log();
    return {-1, -1};
  }
  peers[kVictim] = StartDilocoPeer(dir, config, kVictim, incarnation, addr0, Restart::kRejoin);
  if (AwaitListening(*peers[kVictim], kVictim).empty()) return {-1, -1};
  const std::string first = peers[kVictim]->AwaitLine("] round ", deadline);
  if (first.empty()) {
    ADD_FAILURE() << "the restarted peer never resynced:\n" << peers[kVictim]->log();
    return {-1, -1};
  }
  std::fprintf(stderr, "kill %d at its round %lld (the observer's %lld); restarted, resynced at "
               "round %lld\n", incarnation, static_cast<long long>(kill_at),
               static_cast<long long>(killed_at), static_cast<long long>(RoundOfLine(first)));
  return {killed_at, RoundOfLine(first)};
}

TEST(DilocoChurn, EightPeersKeepTrainingWithAPeerKilledTwiceAndItRejoinsWithTheirState) {
  ASSERT_FALSE(murmur::testing::MurmurBin().empty()) << "MURMUR_BIN must point at murmur";
  const auto started = Clock::now();
  const std::string dir = murmur::testing::FreshTempDir("DilocoChurn");
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(dir + "/network.key").ok());
  const std::string config = WriteConfig(dir);
  std::vector<std::unique_ptr<Process>> peers;
  peers.push_back(StartDilocoPeer(dir, config, 0, 0, ""));
  const std::string addr0 = AwaitListening(*peers[0], 0);
  ASSERT_FALSE(addr0.empty());
  for (int i = 1; i < kPeers; ++i) peers.push_back(StartDilocoPeer(dir, config, i, 0, addr0));
  for (int i = 1; i < kPeers; ++i) ASSERT_FALSE(AwaitListening(*peers[i], i).empty());

  const auto [kill1, rejoin1] = KillAndRejoin(peers, dir, config, addr0, kKillAt, 1);
  ASSERT_GE(rejoin1, 0);
  // It resynced at the others' step, not from the start.
  EXPECT_GE(rejoin1, kill1 + kOutage);
  // It contributes for a while, then dies again.
  const auto [kill2, rejoin2] =
      KillAndRejoin(peers, dir, config, addr0, rejoin1 + kContribute, 2);
  ASSERT_GE(rejoin2, 0);
  EXPECT_GE(rejoin2, kill2 + kOutage);
  ASSERT_LT(rejoin2, kRounds - 10) << "the others were nearly done when it was back";

  const auto end_deadline = Clock::now() + std::chrono::seconds(120);
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(peers[i]->Wait(end_deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  // (b) After every outer step, every peer that took part holds the same
  // global model: their rows of a round (each peer evaluates its own copy
  // on the same test set) agree to the bit, the victim's three
  // incarnations included.
  std::map<int64_t, std::vector<Row>> by_round;
  std::vector<std::vector<Row>> victim(3);
  for (int i = 0; i < kPeers; ++i) {
    for (int inc = 0; inc < (i == kVictim ? 3 : 1); ++inc) {
      const std::vector<Row> rows = ReadDilocoRows(DilocoPeerDir(dir, i, inc));
      if (i == kVictim) victim[inc] = rows;
      for (const Row& r : rows) by_round[r.round].push_back(r);
    }
  }
  ASSERT_EQ(by_round.size(), static_cast<size_t>(kRounds + 1)) << "a round without a row";
  int compared = 0;
  for (const auto& [round, rows] : by_round) {
    for (const Row& r : rows) {
      EXPECT_EQ(r.loss, rows[0].loss) << "round " << round;
      EXPECT_EQ(r.acc, rows[0].acc) << "round " << round;
    }
    compared += static_cast<int>(rows.size());
  }
  EXPECT_LT(by_round.at(kRounds)[0].loss, 0.6 * by_round.at(0)[0].loss) << "it did not learn";
  // (c) The victim's rows: its first run up to about the first kill, then
  // from the round it resynced at to about the second kill, then from the
  // second resync to the end.
  ASSERT_FALSE(victim[0].empty() || victim[1].empty() || victim[2].empty());
  EXPECT_EQ(victim[0].front().round, 0);
  EXPECT_GE(victim[0].back().round, kKillAt);
  EXPECT_EQ(victim[1].front().round, rejoin1);
  EXPECT_GE(victim[1].back().round, rejoin1 + kContribute);
  EXPECT_EQ(victim[2].front().round, rejoin2);
  EXPECT_EQ(victim[2].back().round, kRounds);
  EXPECT_EQ(victim[2].size(), static_cast<size_t>(kRounds - rejoin2 + 1));

  // Counters: no survivor ever disagreed with the majority (so none
  // resynced), and the survivors' outer steps averaged 7 pseudo-gradients
  // during the two outages and 8 otherwise; the victim's last incarnation
  // rejoined once, pulled the state once, and every outer step it took
  // averaged all 8.
  for (int i = 0; i < kPeers; ++i) {
    auto c = ReadDilocoCounters(DilocoPeerDir(dir, i, i == kVictim ? 2 : 0));
    EXPECT_EQ(c["diloco.state_mismatches"], 0) << "peer " << i;
    EXPECT_EQ(c["diloco.state_sync.disagreed"], 0) << "peer " << i;
    EXPECT_EQ(c["diloco.state_no_majority"], 0) << "peer " << i;
    EXPECT_EQ(c["diloco.failed_steps"], 0) << "peer " << i;
    const int64_t steps = c["diloco.outer_steps"];
    const int64_t aggregated = c["diloco.aggregated_peers"];
    if (i == kVictim) {
      EXPECT_EQ(c["diloco.rejoins"], 1);
      EXPECT_EQ(c["diloco.state_resyncs"], 1);
      EXPECT_EQ(steps, kRounds - rejoin2);
      EXPECT_EQ(aggregated, 8 * steps);
      continue;
    }
    EXPECT_EQ(c["diloco.state_resyncs"], 0) << "peer " << i;
    EXPECT_EQ(steps, kRounds) << "peer " << i;
    // The rounds it completed with 7: at least the outages' (kOutage
    // rounds each passed before the restart began), at most those from
    // the victim's last row before each kill to its resync.
    const int64_t with_seven = 8 * steps - aggregated;
    EXPECT_GE(with_seven, 2 * kOutage) << "peer " << i;
    EXPECT_LE(with_seven, (rejoin1 - victim[0].back().round) + (rejoin2 - victim[1].back().round))
        << "peer " << i;
    if (i == kObserver) {
      std::fprintf(stderr, "observer: %lld outer steps, %lld of them with 7 peers; %d rows "
                   "compared; %.1f s\n", static_cast<long long>(steps),
                   static_cast<long long>(with_seven), compared, seconds);
    }
  }
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
