// `murmur run --resume DIR` after SIGKILL: a D-PSGD run (SGD with momentum)
// killed after its 1st snapshot and once more while resuming, a gossip run
// with heterogeneous devices and a FedAvg run killed after their 2nd
// snapshot, and Byzantine D-PSGD under a robust rule, Epidemic Learning and
// MoDeST under churn, each killed after its 1st and 3rd snapshot; FedProx
// with heterogeneous devices, gossip under a robust rule with Byzantine
// peers, Byzantine FedAvg (a colluding coalition) under a robust rule,
// Sybil identities under SybilWall and Bristle against sign-flippers; each
// resumed, gives metrics.jsonl, metrics.csv, peers.csv and summary.json
// byte-identical to an uninterrupted run without snapshots. A corrupt,
// truncated, other-config or other-peer snapshot is refused with exit 2.
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
// snapshot at that time), resumes it and compares the files. `config`,
// when given, is the config file to run instead of the example's (which
// then only names the run).
void ExpectKilledRunResumesIdentically(const std::string& example, double every, double kill_at,
                                       double kill_resume_at,
                                       const std::vector<std::string>& extra = {},
                                       const std::string& config = "") {
  std::vector<std::string> args = kArgs;
  args[0] = config.empty() ? kSource + "/examples/" + example + ".toml" : config;
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

// FedAvg with the Adam server optimizer (Reddi et al. 2021): its moments
// are in the server's snapshot, so a killed run resumes to the same bytes.
TEST(MurmurRunResume, KilledFedAvgRunWithAServerOptimizerResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("fedavg", kEvery, 2 * kEvery, 0,
                                    {"--set", "protocol.server_optimizer=\"adam\"", "--set",
                                     "protocol.server_lr=0.01"});
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

// Stochastic Gradient Push (sgp.h) with two out-peers a round on the
// exponential graph: its push-sum numerators and weights, and the shares
// buffered with their weights, are in the nodes' snapshots. Killed after
// its 1st snapshot, killed again while resuming after its 3rd.
// The quickstart's run with SGP instead of D-PSGD (no topology: SGP's is
// the exponential graph).
TEST(MurmurRunResume, KilledSgpRunResumesToByteIdenticalFiles) {
  const std::string config = FreshTempDir("resume-sgp-config") + "/sgp.toml";
  std::ofstream(config) << "seed = 1\npeers = 16\n[data]\ndataset = \"fashion-mnist\"\n"
                        << "[model]\nkind = \"mlp\"\nhidden = [128]\n"
                        << "[train]\noptimizer = \"sgd\"\nlr = 0.02\nmomentum = 0.9\n"
                        << "batch_size = 32\n[protocol]\nkind = \"sgp\"\nsgp_out_peers = 2\n"
                        << "rounds = 120\nlocal_steps = 10\n[eval]\nevery = 10\n";
  ExpectKilledRunResumesIdentically("sgp", kEvery, kEvery, 3 * kEvery,
                                    {"--set", "sim.speed_sigma=0.5"}, config);
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

// FedProx (proximal term, a local time budget and heterogeneous devices,
// so some clients' updates are partial): the learners' proximal centres and
// the clients' measured step times are in the snapshot. Killed after its
// 2nd snapshot, killed again while resuming after its 4th.
TEST(MurmurRunResume, KilledFedProxRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("fedprox", kEvery, 2 * kEvery, 4 * kEvery,
                                    {"--set", "peers=16", "--set", "eval.every=5",
                                     "--set", "protocol.local_time_budget_s=0.02"});
}

// Gossip under a robust rule (trimmed mean over a window of 4 neighbours'
// models) with 3 of 16 peers Byzantine, each pushing a different model to
// every receiver (equivocation): the honest peers' windows and the
// attackers' held models are in the snapshot. Killed after its 2nd snapshot,
// killed again while resuming after its 5th.
TEST(MurmurRunResume, KilledRobustGossipRunWithByzantinePeersResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically(
      "gossip", 1.0, 2.0, 5.0,
      {"--set", "robust.rule=\"trimmed-mean\"", "--set", "robust.f=1", "--set",
       "byzantine.count=3", "--set", "byzantine.attack=\"equivocation\""});
}

// Byzantine FedAvg: 4 of 20 clients are one "A Little Is Enough" coalition
// crafting from their pooled updates, the server combines with a trimmed
// mean (examples/byzantine_fedavg.toml): each member's share of the
// coalition and the server's replies of the round are in the snapshot.
// Killed after its 2nd snapshot, killed again while resuming after its 5th.
TEST(MurmurRunResume, KilledByzantineFedAvgRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("byzantine_fedavg", kEvery, 2 * kEvery, 5 * kEvery);
}

// 8 of 20 peers are Sybil identities of one adversary (a shared coalition
// that sends one poisoned model), the honest ones defend with SybilWall,
// which gossips update histories (examples/sybilwall.toml): the coalition's
// shares and every peer's histories are in the snapshot. Killed after its
// 1st snapshot, killed again while resuming after its 3rd.
TEST(MurmurRunResume, KilledSybilWallRunAgainstSybilsResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("sybilwall", kEvery, kEvery, 3 * kEvery);
}

// Bristle (examples/bristle.toml without its pretrained body: the output
// layer is trained and exchanged over a frozen random one) against 4
// sign-flippers. Killed after its 1st snapshot, killed again while
// resuming after its 3rd.
TEST(MurmurRunResume, KilledBristleRunResumesToByteIdenticalFiles) {
  ExpectKilledRunResumesIdentically("bristle", kEvery, kEvery, 3 * kEvery,
                                    {"--set", "model.init_checkpoint=\"\""});
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
  args.insert(args.end(), {"--set", "protocol.kind=\"dfedsam\"", "--set", "train.sam_rho=0.05",
                           "--snapshot-every", "0.05", "--out", dir});
  const murmur::testing::CliOutcome o = RunMurmur("run " + Join(args));
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("protocol.kind = \"dfedsam\" with this config cannot snapshot"),
            std::string::npos)
      << o.output;
}

// State that snapshots do not hold is refused at start, naming the kind:
// D-PSGD's [privacy] local noise (its release state) and FedAvg's
// compressed uplink (per-client codec state).
TEST(MurmurRunResume, LocalNoiseAndCompressedFedAvgAreRefused) {
  const struct {
    std::string example, kind;
    std::vector<std::string> set;
  } cases[] = {
      {"quickstart", "dpsgd",
       {"--set", "privacy.mode=\"local\"", "--set", "privacy.noise_multiplier=1",
        "--set", "privacy.clip=1"}},
      {"fedavg_int8", "fedavg", {}},
  };
  for (const auto& c : cases) {
    const std::string dir = FreshTempDir("resume-refused");
    std::vector<std::string> args = kArgs;
    args[0] = kSource + "/examples/" + c.example + ".toml";
    args.insert(args.end(), c.set.begin(), c.set.end());
    args.insert(args.end(), {"--snapshot-every", "0.05", "--out", dir});
    const murmur::testing::CliOutcome o = RunMurmur("run " + Join(args));
    EXPECT_EQ(o.exit_code, 2) << c.example << ": " << o.output;
    EXPECT_NE(o.output.find("protocol.kind = \"" + c.kind + "\" with this config cannot snapshot"),
              std::string::npos)
        << c.example << ": " << o.output;
  }
}

// The node sections of a snapshot file's body ("NODE" markers, one per
// peer, simulator_snapshot.cc), as (offset, length) pairs from the body's
// start; the last runs to the body's end.
std::vector<std::pair<size_t, size_t>> NodeSections(const std::string& body) {
  std::vector<size_t> at;
  for (size_t i = body.find("NODE"); i != std::string::npos; i = body.find("NODE", i + 4)) {
    at.push_back(i);
  }
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t k = 0; k < at.size(); ++k) {
    out.emplace_back(at[k], (k + 1 < at.size() ? at[k + 1] : body.size()) - at[k]);
  }
  return out;
}

uint64_t Fnv1a64(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// A snapshot whose checksum is right but whose node sections are swapped
// (peer 0's state handed to peer 2 and back, on a ring: other neighbours)
// is refused naming the mismatch, exit 2, instead of resuming peers with
// models filed under the wrong senders.
TEST(MurmurRunResume, RefusesASnapshotOfAnotherPeer) {
  const std::string dir = FreshTempDir("resume-swapped");
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--set", "protocol.rounds=5", "--snapshot-every", "0.01", "--out",
                           dir});
  ASSERT_EQ(RunMurmur("run " + Join(args)).exit_code, 0);
  const std::string good = ReadFile(dir + "/snapshot.bin");
  constexpr size_t kBodyAt = 52;  // run_snapshot.h: header, then body_bytes u64
  ASSERT_GT(good.size(), kBodyAt + 8);
  uint64_t body_bytes = 0;
  std::memcpy(&body_bytes, good.data() + 44, sizeof body_bytes);
  ASSERT_EQ(good.size(), kBodyAt + body_bytes + 8);
  const std::string body = good.substr(kBodyAt, body_bytes);
  const auto sections = NodeSections(body);
  ASSERT_EQ(sections.size(), 16u);  // one per peer
  const auto part = [&](size_t k) { return body.substr(sections[k].first, sections[k].second); };
  std::string swapped = body.substr(0, sections[0].first) + part(2) + part(1) + part(0);
  for (size_t k = 3; k < sections.size(); ++k) swapped += part(k);
  ASSERT_EQ(swapped.size(), body.size());
  std::string file = good.substr(0, kBodyAt) + swapped;
  const uint64_t sum = Fnv1a64(file);
  file.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  std::ofstream(dir + "/snapshot.bin", std::ios::binary | std::ios::trunc) << file;
  const murmur::testing::CliOutcome o = RunMurmur("run --resume '" + dir + "' --quiet");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_NE(o.output.find("another peer"), std::string::npos) << o.output;
  // The untouched snapshot still resumes.
  std::ofstream(dir + "/snapshot.bin", std::ios::binary | std::ios::trunc) << good;
  EXPECT_EQ(RunMurmur("run --resume '" + dir + "' --quiet").exit_code, 0);
}

}  // namespace
