// Real `murmur peer` processes on 127.0.0.1 with kernel-assigned ports: a
// run learns (D-PSGD, gossip learning, server protocols), survives a kill
// -9, takes the killed peer back, cuts off a socket that sends garbage, and
// refuses a stranger's key or network key. Every wait has a deadline and waits on an
// event (a line on a pipe, a process exit, a socket closing), never a sleep.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <map>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "murmur/runtime/frame.h"
#include "murmur/runtime/identity.h"
#include "testing/cli_runner.h"
#include "testing/socket_probe.h"


namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(90);

using murmur::testing::MurmurBin;
using Process = murmur::testing::ChildProcess;

// A small D-PSGD run on the synthetic dataset with logistic regression.
// A run of protocol `kind` (a ring for the protocols with a topology);
// `protocol_lines` are more [protocol] keys, one "key = value" per line.
std::string WriteConfig(const std::string& dir, int rounds, double timeout_s,
                        const std::string& kind = "dpsgd",
                        const std::string& protocol_lines = "") {
  const std::string path = dir + "/run-" + kind + ".toml";
  const bool has_topology = kind == "dpsgd" || kind == "gossip";
  std::ofstream(path) << "seed = 3\npeers = 4\nthreads = 1\n"
                      << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 800\n"
                      << "synthetic_test = 200\n"
                      << "[model]\nkind = \"logreg\"\n"
                      << "[protocol]\nkind = \"" << kind << "\"\n"
                      << (has_topology ? "topology = \"ring\"\n" : "") << "rounds = " << rounds
                      << "\nlocal_steps = 5\nround_timeout_s = " << timeout_s << "\n"
                      << protocol_lines << "[eval]\nevery = 1\n";
  return path;
}

// Starts peer `index` of the run in `dir`; returns it once it listens, with
// its address in *address.
std::unique_ptr<Process> StartPeer(const std::string& dir, const std::string& config, int index,
                                   const std::string& bootstrap, std::string* address,
                                   const std::vector<std::string>& extra = {}) {
  const std::string peer_dir = dir + "/peer-" + std::to_string(index);
  std::vector<std::string> argv = {MurmurBin(), "peer", config,
                                   "--index", std::to_string(index),
                                   "--key", peer_dir + "/key",
                                   "--network-key", dir + "/network.key",
                                   "--out", peer_dir,
                                   "--peer-timeout", "2"};
  if (!bootstrap.empty()) {
    argv.push_back("--bootstrap");
    argv.push_back(bootstrap);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = std::make_unique<Process>(argv);
  const std::string line = p->AwaitLine("listening on ", Clock::now() + kDeadline);
  EXPECT_FALSE(line.empty()) << "peer " << index << " did not start:\n" << p->log();
  if (address) *address = line.substr(line.find("listening on ") + 13);
  return p;
}

nlohmann::json ReadSummary(const std::string& peer_dir) {
  std::ifstream in(peer_dir + "/summary.json");
  if (!in) return nlohmann::json::object();
  return nlohmann::json::parse(in, nullptr, false);
}

// The rows of a small CSV file, split at commas (no quoting).
std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream fs(line);
    std::string field;
    while (std::getline(fs, field, ',')) fields.push_back(field);
    rows.push_back(std::move(fields));
  }
  return rows;
}

int64_t Counter(const nlohmann::json& summary, const std::string& name) {
  if (!summary.contains("counters") || !summary["counters"].contains(name)) return 0;
  return summary["counters"][name].get<int64_t>();
}

double FinalAccuracy(const std::string& peer_dir) {
  std::ifstream in(peer_dir + "/metrics.jsonl");
  std::string line, last;
  while (std::getline(in, line)) last = line;
  if (last.empty()) return -1;
  return nlohmann::json::parse(last)["acc_mean"].get<double>();
}

class PeerProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(MurmurBin().empty()) << "MURMUR_BIN must point at the murmur binary";
    dir_ = murmur::testing::FreshTempDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(dir_ + "/network.key").ok());
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(PeerProcesses, LaunchedPeersTrainAndLearn) {
  const std::string config = WriteConfig(dir_, 10, 5);
  Process launch({MurmurBin(), "launch", "4", config, "--out", dir_ + "/run"});
  ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
  std::ifstream in(dir_ + "/run/metrics.jsonl");
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 11u);  // rounds 0..10
  const auto& last = rows.back();
  EXPECT_EQ(last["round"], 10);
  EXPECT_EQ(last["peers_evaluated"], 4);
  // Synthetic Gaussian clusters: chance is 0.1, a trained model is near 1.
  EXPECT_LT(rows.front()["acc_mean"].get<double>(), 0.5);
  EXPECT_GT(last["acc_min"].get<double>(), 0.9);
  // Ring of 4: every peer sends its model to 2 neighbours each round.
  EXPECT_EQ(last["msgs_sent"], 4 * 2 * 10);
  for (int i = 0; i < 4; ++i) {
    const auto s = ReadSummary(dir_ + "/run/peer-" + std::to_string(i));
    EXPECT_EQ(s["finished"], true) << i;
    EXPECT_EQ(s["send_dropped"], 0) << i;
    EXPECT_EQ(Counter(s, "dpsgd.round_timeouts"), 0) << i;
  }
  // peers.csv and summary.json as the simulator writes them: every model
  // sent on the ring also arrived, so each peer's received bytes are its
  // two neighbours' models and the columns sum to the merged totals.
  const std::vector<std::vector<std::string>> peers = ReadCsv(dir_ + "/run/peers.csv");
  ASSERT_EQ(peers.size(), 5u);
  EXPECT_EQ(peers[0], (std::vector<std::string>{"peer", "role", "bytes_sent", "bytes_received",
                                                "msgs_sent", "msgs_received"}));
  uint64_t sent = 0, received = 0;
  for (size_t i = 1; i < peers.size(); ++i) {
    ASSERT_EQ(peers[i].size(), 6u);
    EXPECT_EQ(peers[i][0], std::to_string(i - 1));
    EXPECT_EQ(peers[i][1], "peer");
    EXPECT_EQ(peers[i][4], "20");
    EXPECT_EQ(peers[i][5], "20");
    EXPECT_EQ(peers[i][2], peers[i][3]) << "a ring peer sends and receives equal models";
    sent += std::stoull(peers[i][2]);
    received += std::stoull(peers[i][3]);
  }
  EXPECT_EQ(sent, last["bytes_sent"].get<uint64_t>());
  EXPECT_EQ(received, sent);
  const auto summary = ReadSummary(dir_ + "/run");
  EXPECT_EQ(summary["bytes_sent"], last["bytes_sent"]);
  EXPECT_EQ(summary["finished"], true);
  EXPECT_DOUBLE_EQ(summary["acc_per_mb"].get<double>(),
                   last["acc_mean"].get<double>() / (static_cast<double>(sent) / 1e6));
}

// `--streams 3`: every link a control stream and two data streams (each
// its own handshake); the same run, every model arriving, Byes included.
TEST_F(PeerProcesses, LaunchedPeersTrainOverThreeStreamsPerLink) {
  const std::string config = WriteConfig(dir_, 10, 5);
  Process launch({MurmurBin(), "launch", "4", config, "--out", dir_ + "/run", "--streams", "3"});
  ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
  std::ifstream in(dir_ + "/run/metrics.jsonl");
  std::string line, last_line;
  int rows = 0;
  while (std::getline(in, line)) {
    last_line = line;
    ++rows;
  }
  ASSERT_EQ(rows, 11);
  const nlohmann::json last = nlohmann::json::parse(last_line);
  EXPECT_GT(last["acc_min"].get<double>(), 0.9);
  EXPECT_EQ(last["msgs_sent"], 4 * 2 * 10);
  for (int i = 0; i < 4; ++i) {
    const auto s = ReadSummary(dir_ + "/run/peer-" + std::to_string(i));
    EXPECT_EQ(s["finished"], true) << i;
    EXPECT_EQ(s["send_dropped"], 0) << i;
    EXPECT_EQ(Counter(s, "dpsgd.round_timeouts"), 0) << i;
  }
  const std::vector<std::vector<std::string>> peers = ReadCsv(dir_ + "/run/peers.csv");
  ASSERT_EQ(peers.size(), 5u);
  for (size_t i = 1; i < peers.size(); ++i) EXPECT_EQ(peers[i][5], "20") << "peer " << i - 1;
}

// Gossip learning (Ormandi et al. 2013): asynchronous pushes to a random
// ring neighbour every gossip period, merge and train on receipt.
TEST_F(PeerProcesses, GossipLearningPeersLearn) {
  const std::string config = WriteConfig(dir_, 20, 5, "gossip", "gossip_period_s = 0.05\n");
  Process launch({MurmurBin(), "launch", "4", config, "--out", dir_ + "/run"});
  ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
  std::ifstream in(dir_ + "/run/metrics.jsonl");
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 21u);  // cycles 0..20
  EXPECT_EQ(rows.back()["round"], 20);
  EXPECT_EQ(rows.back()["peers_evaluated"], 4);
  EXPECT_LT(rows.front()["acc_mean"].get<double>(), 0.5);
  EXPECT_GT(rows.back()["acc_min"].get<double>(), 0.9);
  // One push per peer and cycle.
  EXPECT_EQ(rows.back()["msgs_sent"], 4 * 20);
  int64_t received = 0;
  for (int i = 0; i < 4; ++i) {
    const auto s = ReadSummary(dir_ + "/run/peer-" + std::to_string(i));
    EXPECT_EQ(s["finished"], true) << i;
    EXPECT_EQ(s["send_dropped"], 0) << i;
    received += s["msgs_received"].get<int64_t>();
  }
  // Pushes to a peer that had already finished may be lost; most arrive.
  EXPECT_GT(received, 4 * 20 / 2);
  EXPECT_LE(received, 4 * 20);
}

TEST_F(PeerProcesses, FedAvgServerIsOneMoreProcess) {
  const std::string config = WriteConfig(dir_, 6, 20, "fedavg");
  Process launch({MurmurBin(), "launch", "3", config, "--out", dir_ + "/run"});
  ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
  std::ifstream in(dir_ + "/run/metrics.jsonl");
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows.back()["peers_evaluated"], 1);  // the server's global model
  EXPECT_GT(rows.back()["acc_mean"].get<double>(), 0.9);
  // Clients 0..2 and the server, slot 3; the clients left on the server's Bye.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ReadSummary(dir_ + "/run/peer-" + std::to_string(i))["finished"], true) << i;
  }
  const auto server = ReadSummary(dir_ + "/run/peer-3");
  EXPECT_EQ(server["role"], "server");
  const std::vector<std::vector<std::string>> peers = ReadCsv(dir_ + "/run/peers.csv");
  ASSERT_EQ(peers.size(), 5u);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(peers[i][1], "client") << i;
  EXPECT_EQ(peers[4][1], "server");
  EXPECT_EQ(server["msgs_sent"], 3 * 6);  // the global model to 3 clients per round
  EXPECT_EQ(server["msgs_received"], 3 * 6);
  EXPECT_EQ(Counter(server, "fedavg.round_timeouts"), 0);
}

// Protocols whose end is not every peer reporting its last round: an
// asynchronous server (FedBuff, slot 4) and MoDeST, where only the last
// round's aggregators report it. Every process must still finish.
TEST_F(PeerProcesses, ServerAndSampledProtocolsFinish) {
  for (const std::string kind : {"fedbuff", "modest"}) {
    SCOPED_TRACE(kind);
    const std::string out = dir_ + "/" + kind;
    const std::string config = WriteConfig(
        dir_, 4, 10, kind,
        kind == "fedbuff" ? "buffer_size = 2\n" : "modest_trainers = 2\nmodest_aggregators = 1\n");
    Process launch({MurmurBin(), "launch", "4", config, "--out", out});
    ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
    const int processes = kind == "fedbuff" ? 5 : 4;
    for (int i = 0; i < processes; ++i) {
      EXPECT_EQ(ReadSummary(out + "/peer-" + std::to_string(i))["finished"], true) << i;
    }
    std::ifstream in(out + "/metrics.jsonl");
    std::string line, last;
    while (std::getline(in, line)) last = line;
    ASSERT_FALSE(last.empty());
    EXPECT_EQ(nlohmann::json::parse(last)["round"], 4);
  }
}

// MoDeST (first-report evaluation) with eval.peers > 0: the simulator and
// six real processes pick the same evaluated models, so every row's
// accuracy and loss agree exactly; launch's traffic columns are the peers'
// real counters.
TEST_F(PeerProcesses, ModestLaunchMatchesTheSimulatorRowForRow) {
  const std::string config = dir_ + "/modest.toml";
  std::ofstream(config) << "seed = 1\npeers = 6\nthreads = 1\n"
                        << "[data]\ndataset = \"synthetic\"\nsynthetic_train = 600\n"
                        << "synthetic_test = 200\n[model]\nkind = \"logreg\"\n"
                        << "[protocol]\nkind = \"modest\"\nrounds = 6\nlocal_steps = 5\n"
                        << "modest_trainers = 3\nmodest_aggregators = 2\n"
                        << "modest_success_fraction = 1.0\nmodest_ping_timeout_s = 0.5\n"
                        << "round_timeout_s = 2\n[eval]\nevery = 1\npeers = 2\n";
  Process sim({MurmurBin(), "run", config, "--out", dir_ + "/sim", "--quiet"});
  ASSERT_EQ(sim.Wait(Clock::now() + kDeadline), 0) << sim.log();
  Process launch({MurmurBin(), "launch", "6", config, "--out", dir_ + "/net", "--quiet"});
  ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();

  const auto sim_rows = ReadCsv(dir_ + "/sim/metrics.csv");
  const auto net_rows = ReadCsv(dir_ + "/net/metrics.csv");
  ASSERT_EQ(sim_rows.size(), 1u + 7u);  // header, rounds 0..6
  ASSERT_EQ(net_rows.size(), sim_rows.size());
  EXPECT_EQ(net_rows[0], sim_rows[0]);
  // round, acc_mean, acc_min, acc_max, loss_mean, peers_evaluated
  for (size_t r = 1; r < sim_rows.size(); ++r) {
    for (size_t col : {0u, 2u, 3u, 4u, 5u, 10u}) {
      EXPECT_EQ(net_rows[r][col], sim_rows[r][col]) << "row " << r << " column " << sim_rows[0][col];
    }
  }
  // Every peer's delivered bytes, summed, and the busiest peer's traffic.
  const auto peers = ReadCsv(dir_ + "/net/peers.csv");
  ASSERT_EQ(peers.size(), 1u + 6u);
  uint64_t sent = 0, received = 0, busiest = 0;
  for (size_t i = 1; i < peers.size(); ++i) {
    EXPECT_EQ(peers[i][1], "peer");
    sent += std::stoull(peers[i][2]);
    received += std::stoull(peers[i][3]);
    busiest = std::max<uint64_t>(busiest, std::stoull(peers[i][2]) + std::stoull(peers[i][3]));
  }
  const nlohmann::json summary = ReadSummary(dir_ + "/net");
  EXPECT_EQ(summary["finished"], true);
  EXPECT_EQ(summary["bytes_received"].get<uint64_t>(), received);
  EXPECT_EQ(summary["max_peer_bytes"].get<uint64_t>(), busiest);
  EXPECT_GT(std::stoull(net_rows.back()[11]), 0u);  // a merged row's bytes_received is real
  // MoDeST's pings and the run's last aggregations follow real time, so the
  // processes' traffic is close to the simulator's, not equal.
  const nlohmann::json sim_summary = ReadSummary(dir_ + "/sim");
  const auto sim_sent = sim_summary["bytes_sent"].get<double>();
  EXPECT_NEAR(static_cast<double>(sent), sim_sent, 0.25 * sim_sent);
  EXPECT_NEAR(static_cast<double>(received), sim_summary["bytes_received"].get<double>(),
              0.25 * sim_sent);
}

TEST_F(PeerProcesses, SurvivorsFinishAfterKill9AndTheKilledPeerRejoins) {
  // Enough rounds that the others are still running when peer 2 is back:
  // they stop waiting for it once it is declared down.
  const std::string config = WriteConfig(dir_, 2000, 0.3);
  std::string addr0;
  std::vector<std::unique_ptr<Process>> peers;
  peers.push_back(StartPeer(dir_, config, 0, "", &addr0));
  for (int i = 1; i < 4; ++i) peers.push_back(StartPeer(dir_, config, i, addr0, nullptr));
  const auto deadline = Clock::now() + kDeadline;
  ASSERT_FALSE(peers[2]->AwaitLine("round 5 ", deadline).empty()) << peers[2]->log();
  const std::string key_before = ReadSummary(dir_ + "/peer-2").dump();
  peers[2]->Kill9();
  // Restarted with the same key file and index, on a fresh port.
  peers[2] = StartPeer(dir_, config, 2, addr0, nullptr);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  int64_t rejoined = 0, down = 0;
  for (int i : {0, 1, 3}) {
    const std::string d = dir_ + "/peer-" + std::to_string(i);
    const auto s = ReadSummary(d);
    EXPECT_EQ(s["finished"], true) << i;
    EXPECT_GT(FinalAccuracy(d), 0.9) << i;
    down += Counter(s, "net.peers_down");
    rejoined += Counter(s, "net.peer_rejoined");
  }
  EXPECT_GE(down, 3);      // everyone noticed peer 2 go
  EXPECT_GE(rejoined, 1);  // and at least one took it back
  const auto s2 = ReadSummary(dir_ + "/peer-2");
  EXPECT_EQ(s2["finished"], true);
  EXPECT_GE(s2["handshakes"].get<int64_t>(), 1);
  EXPECT_GT(FinalAccuracy(dir_ + "/peer-2"), 0.9);
  (void)key_before;
}

using murmur::testing::SendAndAwaitClose;

TEST_F(PeerProcesses, GarbageSendersAreCutOffWhileTrainingContinues) {
  const std::string config = WriteConfig(dir_, 15, 5);
  std::string addr0;
  std::vector<std::unique_ptr<Process>> peers;
  peers.push_back(StartPeer(dir_, config, 0, "", &addr0));
  for (int i = 1; i < 4; ++i) peers.push_back(StartPeer(dir_, config, i, addr0, nullptr));
  const auto deadline = Clock::now() + kDeadline;
  ASSERT_FALSE(peers[0]->AwaitLine("round 2 ", deadline).empty()) << peers[0]->log();
  // An HTTP request, a header claiming a 4 GiB frame, and a well-formed
  // Hello with a forged mac1 followed by an Auth frame sealed with nothing.
  const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_TRUE(SendAndAwaitClose(addr0, std::vector<uint8_t>(http.begin(), http.end()), deadline));
  EXPECT_TRUE(SendAndAwaitClose(
      addr0, {'M', 'R', 'M', 'R', 1, 3, 0, 0, 0xff, 0xff, 0xff, 0xff}, deadline));
  std::vector<uint8_t> fake = {'M', 'R', 'M', 'R', murmur::net::kWireVersion, 1, 0, 0, 64, 0, 0, 0};
  fake.resize(fake.size() + 64, 9);
  const std::vector<uint8_t> auth = {'M', 'R', 'M', 'R', murmur::net::kWireVersion, 2, 0, 0, 20, 0, 0, 0};
  fake.insert(fake.end(), auth.begin(), auth.end());
  fake.resize(fake.size() + 20, 0);
  EXPECT_TRUE(SendAndAwaitClose(addr0, fake, deadline));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  const auto s0 = ReadSummary(dir_ + "/peer-0");
  EXPECT_EQ(Counter(s0, "net.rejected.bad_header"), 2);
  EXPECT_EQ(Counter(s0, "net.rejected.bad_hello_mac"), 1);
  EXPECT_EQ(Counter(s0, "dpsgd.round_timeouts"), 0);
  EXPECT_GT(FinalAccuracy(dir_ + "/peer-0"), 0.9);
  EXPECT_NE(peers[0]->log().find("bad magic"), std::string::npos);
}

TEST_F(PeerProcesses, KeyOutsideTheAllowlistIsRefusedWhileTheOthersTrain) {
  const std::string config = WriteConfig(dir_, 15, 5);
  // The run's keys, bound to their slots in the allowlist.
  murmur::net::Allowlist allow;
  for (int i = 0; i < 4; ++i) {
    auto id = murmur::net::Identity::LoadOrCreate(dir_ + "/peer-" + std::to_string(i) + "/key");
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    allow.Add(id->public_key(), murmur::PeerId(static_cast<uint32_t>(i)));
  }
  std::ofstream(dir_ + "/allow.txt") << allow.ToText();
  const std::vector<std::string> allow_args = {"--allow", dir_ + "/allow.txt"};
  std::string addr0;
  std::vector<std::unique_ptr<Process>> peers;
  peers.push_back(StartPeer(dir_, config, 0, "", &addr0, allow_args));
  // A stranger with the network key but its own key claims slot 1. Peer 0
  // refuses it before the others join, so the run cannot start with it.
  Process stranger({MurmurBin(), "peer", config, "--index", "1", "--key",
                    dir_ + "/stranger/key", "--network-key", dir_ + "/network.key", "--allow",
                    dir_ + "/allow.txt", "--bootstrap", addr0, "--start-timeout", "1000",
                    "--quiet"});
  const auto deadline = Clock::now() + kDeadline;
  EXPECT_FALSE(peers[0]->AwaitLine("not_admitted", deadline).empty()) << peers[0]->log();
  // The rightful peers join and train while the stranger still runs.
  for (int i = 1; i < 4; ++i) {
    peers.push_back(StartPeer(dir_, config, i, addr0, nullptr, allow_args));
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  stranger.Kill9();
  const auto s0 = ReadSummary(dir_ + "/peer-0");
  // The stranger retries its bootstrap with backoff and is refused each time.
  EXPECT_GE(Counter(s0, "net.rejected.not_admitted"), 1);
  EXPECT_EQ(Counter(s0, "net.peers_down"), 0);
  // Ring of 4, 15 rounds: two models a round, all from the rightful peers.
  EXPECT_EQ(s0["msgs_received"], 2 * 15);
  for (int i = 0; i < 4; ++i) {
    const std::string d = dir_ + "/peer-" + std::to_string(i);
    EXPECT_EQ(ReadSummary(d)["finished"], true) << i;
    EXPECT_GT(FinalAccuracy(d), 0.9) << i;
  }
}

TEST_F(PeerProcesses, StrangerWithoutTheNetworkKeyIsRefused) {
  const std::string config = WriteConfig(dir_, 200, 5);
  std::string addr0;
  auto peer0 = StartPeer(dir_, config, 0, "", &addr0);
  // Same config and slot 1, but its own network key.
  ASSERT_TRUE(murmur::net::CreateNetworkKeyFile(dir_ + "/other.key").ok());
  Process stranger({MurmurBin(), "peer", config, "--index", "1", "--key",
                    dir_ + "/stranger/key", "--network-key", dir_ + "/other.key",
                    "--bootstrap", addr0, "--start-timeout", "1000", "--quiet"});
  const auto deadline = Clock::now() + kDeadline;
  // Its Hello fails mac1 at peer 0, which closes without answering.
  EXPECT_FALSE(peer0->AwaitLine("hello fails its mac1", deadline).empty()) << peer0->log();
  EXPECT_FALSE(stranger.AwaitLine("without answering our hello", deadline).empty())
      << stranger.log();
}

}  // namespace

// The round number of a "[peer i] round N ..." line; -1 for another line.
int64_t RoundOfLine(const std::string& line) {
  const size_t at = line.find("] round ");
  return at == std::string::npos ? -1 : std::stoll(line.substr(at + 8));
}

// Issue 18 item 2: with one of 6 D-PSGD peers killed, its neighbours stop
// waiting for it once the failure detector declares it down (a handful of
// round timeouts, not one per remaining round), and the restarted peer
// catches up with the others' round instead of replaying from round 0.
TEST_F(PeerProcesses, SurvivorsStopWaitingForADeadPeerAndTheRestartedPeerCatchesUp) {
  constexpr int kPeers = 6;
  constexpr int kRounds = 600;
  const std::string config = WriteConfig(dir_, kRounds, 1.0);
  const std::vector<std::string> six = {"--set", "peers=6", "--quiet"};
  std::string addr0;
  std::vector<std::unique_ptr<Process>> peers;
  peers.push_back(StartPeer(dir_, config, 0, "", &addr0, {"--set", "peers=6"}));
  for (int i = 1; i < kPeers; ++i) peers.push_back(StartPeer(dir_, config, i, addr0, nullptr, six));
  const auto deadline = Clock::now() + kDeadline;
  ASSERT_FALSE(peers[0]->AwaitLine("] round 20 ", deadline).empty()) << peers[0]->log();
  peers[3]->Kill9();
  // Without recovery every round of peers 2 and 4 waits out the 1 s
  // timeout, and the ring follows them: 100 rounds would take 100 s.
  const auto killed_at = Clock::now();
  ASSERT_FALSE(peers[0]->AwaitLine("] round 120 ", Clock::now() + std::chrono::seconds(40)).empty())
      << peers[0]->log();
  const double seconds_for_100 =
      std::chrono::duration<double>(Clock::now() - killed_at).count();
  std::fprintf(stderr, "100 rounds after the kill took %.2f s\n", seconds_for_100);
  // Restarted with the same key file and index, on a fresh port.
  peers[3] = StartPeer(dir_, config, 3, addr0, nullptr, six);
  for (int i = 0; i < kPeers; ++i) {
    EXPECT_EQ(peers[i]->Wait(deadline), 0) << "peer " << i << ":\n" << peers[i]->log();
  }
  int64_t timeouts = 0, down = 0;
  for (int i : {0, 1, 2, 4, 5}) {
    const auto s = ReadSummary(dir_ + "/peer-" + std::to_string(i));
    EXPECT_EQ(s["finished"], true) << i;
    timeouts += Counter(s, "dpsgd.round_timeouts");
    down += Counter(s, "dpsgd.neighbours_down");
  }
  EXPECT_GE(down, 2);  // peers 2 and 4 declared their neighbour down
  // Detection takes --peer-timeout 2 s: about 2 timeouts each for peers 2
  // and 4, and a few more around the restart; never one per round.
  EXPECT_LE(timeouts, 16);
  const auto s3 = ReadSummary(dir_ + "/peer-3");
  EXPECT_EQ(s3["finished"], true);
  EXPECT_GE(Counter(s3, "dpsgd.catch_ups"), 1);
  EXPECT_GT(FinalAccuracy(dir_ + "/peer-3"), 0.9);
  // The restarted peer's rounds (it evaluates every round; its rows follow
  // the first run's, from its own round 0): within 10 rounds of its own it
  // is past round 120, where the others were when it restarted, instead of
  // replaying every round from 1.
  std::ifstream in(dir_ + "/peer-3/metrics.jsonl");
  std::vector<int64_t> rounds;
  for (std::string row; std::getline(in, row);) {
    const int64_t round = nlohmann::json::parse(row)["round"].get<int64_t>();
    if (round == 0) rounds.clear();
    rounds.push_back(round);
  }
  const auto caught_up =
      std::find_if(rounds.begin(), rounds.end(), [](int64_t r) { return r >= 120; });
  ASSERT_NE(caught_up, rounds.end());
  std::fprintf(stderr, "the restarted peer was past round 120 after %lld rounds of its own\n",
               static_cast<long long>(caught_up - rounds.begin()));
  // Issue 18's bar, 10 rounds (1 in four runs of 2026-12-06); 120 is where
  // the others were when the restart began, a lower bound of their round
  // when it started (peer_churn_test.cc asserts the bar against that).
  EXPECT_LE(caught_up - rounds.begin(), 10) << "rounds the restarted peer trained to catch up";
}

// FedAvg with secure aggregation (SecAgg+) over 4 client processes and a
// server process: every round runs the four SecAgg phases over TCP, the
// server receives exactly 4 messages per client per round, and the run ends
// at the simulated run's accuracy (the sum is exact to 2^-17, so the same
// model up to float rounding).
TEST_F(PeerProcesses, SecureAggregationRunMatchesTheSimulation) {
  const std::string config =
      WriteConfig(dir_, 4, 20, "fedavg", "[privacy]\nsecure_aggregation = \"secagg+\"\n");
  Process launch({MurmurBin(), "launch", "4", config, "--out", dir_ + "/run"});
  ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
  Process sim({MurmurBin(), "run", config, "--out", dir_ + "/sim"});
  ASSERT_EQ(sim.Wait(Clock::now() + kDeadline), 0) << sim.log();
  const double launched = FinalAccuracy(dir_ + "/run");
  EXPECT_GT(launched, 0.8);
  EXPECT_NEAR(launched, FinalAccuracy(dir_ + "/sim"), 0.02);
  const auto server = ReadSummary(dir_ + "/run/peer-4");
  EXPECT_EQ(server["role"], "server");
  EXPECT_EQ(server["finished"], true);
  EXPECT_EQ(server["msgs_received"], 4 * 4 * 4);  // 4 phases x 4 clients x 4 rounds
  EXPECT_EQ(Counter(server, "secagg.aborted_rounds"), 0);
  EXPECT_EQ(Counter(server, "secagg.dropped_clients"), 0);
}

// The same over TCP with RQM level indices masked in Z_{2^6} (4 clients,
// 16 levels) instead of fixed point (privacy.secagg_encoding = "rqm"): the
// packed masked inputs cross real sockets, and the run ends near the
// simulated run's accuracy (the index sum is exact; a launched client draws
// its RQM randomness from its secret privacy stream, the simulated one from
// its seeded stream, so the two runs round differently: six launches ended
// at 0.885-0.935 on the 200 test samples, standard deviation 0.017, the
// simulation at 0.915; the tolerance is 3.5 of those deviations).
TEST_F(PeerProcesses, SecureAggregationWithRqmRunMatchesTheSimulation) {
  const std::string config = WriteConfig(
      dir_, 4, 20, "fedavg",
      "[privacy]\nsecure_aggregation = \"secagg+\"\nsecagg_encoding = \"rqm\"\n"
      "rqm_clip = 0.05\nrqm_delta = 0.075\n");
  Process launch({MurmurBin(), "launch", "4", config, "--out", dir_ + "/run"});
  ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
  Process sim({MurmurBin(), "run", config, "--out", dir_ + "/sim"});
  ASSERT_EQ(sim.Wait(Clock::now() + kDeadline), 0) << sim.log();
  const double launched = FinalAccuracy(dir_ + "/run");
  EXPECT_GT(launched, 0.8);
  EXPECT_NEAR(launched, FinalAccuracy(dir_ + "/sim"), 0.06);
  const auto server = ReadSummary(dir_ + "/run/peer-4");
  EXPECT_EQ(server["finished"], true);
  EXPECT_EQ(server["msgs_received"], 4 * 4 * 4);
  EXPECT_EQ(Counter(server, "secagg.aborted_rounds"), 0);
  // RQM's epsilon (privacy/rqm_accountant.h): the launched server's rows
  // carry it, and the merged summary reports the simulated run's figure.
  const nlohmann::json sim_summary = ReadSummary(dir_ + "/sim");
  ASSERT_TRUE(sim_summary["epsilon"].is_number()) << sim_summary.dump();
  EXPECT_GT(sim_summary["epsilon"].get<double>(), 0);
  EXPECT_EQ(ReadSummary(dir_ + "/run")["epsilon"], sim_summary["epsilon"]);
}

namespace {

// The epsilon of each line of a metrics.jsonl, by round (null: +infinity).
std::map<int64_t, double> EpsilonByRound(const std::string& path) {
  std::map<int64_t, double> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json row = nlohmann::json::parse(line);
    if (!row.contains("epsilon")) continue;
    out[row["round"].get<int64_t>()] =
        row["epsilon"].is_null() ? INFINITY : row["epsilon"].get<double>();
  }
  return out;
}

}  // namespace

// A private run over real processes reports epsilon as the simulator does:
// client-level DP (local mode, FedAvg) on every merged row, the same values;
// DP-SGD (D-PSGD) with the same final per-peer epsilon in summary.json
// (every peer took rounds * local_steps steps at the same q).
TEST_F(PeerProcesses, LaunchedPrivateRunsReportTheSimulatorsEpsilon) {
  const std::pair<std::string, std::string> runs[] = {
      {"fedavg", "client_fraction = 0.5\n[privacy]\nmode = \"local\"\nclip = 0.5\n"
                 "noise_multiplier = 1.3\ndelta = 1e-4\n"},
      {"dpsgd", "[privacy]\ndp_sgd = true\ndp_sgd_clip = 1.0\ndp_sgd_noise_multiplier = 1.1\n"},
      // DP-SGD and RQM both bound a CHOCO peer's releases: the smaller holds.
      {"choco", "[privacy]\ndp_sgd = true\ndp_sgd_clip = 1.0\ndp_sgd_noise_multiplier = 1.1\n"
                "[compress]\ncodec = \"rqm:clip=0.05,delta=0.075,levels=16,keep=0.5\"\n"},
  };
  for (const auto& [kind, lines] : runs) {
    SCOPED_TRACE(kind);
    const std::string config = WriteConfig(dir_, 3, 10, kind, lines);
    const std::string sim = dir_ + "/sim-" + kind, net = dir_ + "/net-" + kind;
    Process run({MurmurBin(), "run", config, "--out", sim, "--quiet"});
    ASSERT_EQ(run.Wait(Clock::now() + kDeadline), 0) << run.log();
    Process launch({MurmurBin(), "launch", "4", config, "--out", net, "--quiet"});
    ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
    const std::map<int64_t, double> sim_eps = EpsilonByRound(sim + "/metrics.jsonl");
    const std::map<int64_t, double> net_eps = EpsilonByRound(net + "/metrics.jsonl");
    ASSERT_EQ(sim_eps.size(), 4u);  // rounds 0..3
    ASSERT_EQ(net_eps.size(), 4u);
    EXPECT_GT(sim_eps.at(3), 0);
    if (kind == "fedavg") EXPECT_EQ(net_eps, sim_eps);
    EXPECT_EQ(net_eps.at(3), sim_eps.at(3));
    EXPECT_EQ(ReadSummary(net)["epsilon"], ReadSummary(sim)["epsilon"]);
    // A DP-SGD peer's own summary holds its epsilon after the last round
    // (launch's summary takes the largest, so a peer's 0 would hide there).
    for (int i = 0; kind != "fedavg" && i < 4; ++i) {
      EXPECT_EQ(ReadSummary(net + "/peer-" + std::to_string(i))["epsilon"], sim_eps.at(3)) << i;
    }
  }
}

namespace {

// Each row's (acc_mean, loss_mean) of a run's metrics.jsonl, in order.
std::vector<std::pair<double, double>> AccuracyAndLoss(const std::string& dir) {
  std::vector<std::pair<double, double>> rows;
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json row = nlohmann::json::parse(line);
    rows.emplace_back(row["acc_mean"].get<double>(), row["loss_mean"].get<double>());
  }
  return rows;
}

}  // namespace

// Every peer of a launched run has the run seed, so DP noise drawn from it
// could be regenerated and subtracted by any of them. A launched peer draws
// it from a secret stream instead (Host::privacy_rng, net::SecretRng): two
// launches of one private config differ from each other and from the
// simulation, while the simulator replays its seeded noise exactly. The
// control, the same config with z = 0 and a clip no update reaches, gives
// the simulator's rows exactly over real processes, so what differs is the
// noise and nothing else.
TEST_F(PeerProcesses, LaunchedPeersDrawDpNoiseNobodyCanRegenerateFromTheSeed) {
  const std::string base = "[privacy]\nmode = \"local\"\nclip = ";
  const std::string control = WriteConfig(dir_, 3, 10, "dpsgd", base + "1e6\n");
  Process control_sim({MurmurBin(), "run", control, "--out", dir_ + "/control-sim", "--quiet"});
  ASSERT_EQ(control_sim.Wait(Clock::now() + kDeadline), 0) << control_sim.log();
  Process control_net(
      {MurmurBin(), "launch", "4", control, "--out", dir_ + "/control-net", "--quiet"});
  ASSERT_EQ(control_net.Wait(Clock::now() + kDeadline), 0) << control_net.log();
  ASSERT_EQ(AccuracyAndLoss(dir_ + "/control-sim").size(), 4u);
  EXPECT_EQ(AccuracyAndLoss(dir_ + "/control-net"), AccuracyAndLoss(dir_ + "/control-sim"));

  const std::string config =
      WriteConfig(dir_, 3, 10, "dpsgd", base + "0.5\nnoise_multiplier = 1.0\n");
  std::vector<std::vector<std::pair<double, double>>> sims, nets;
  for (int k = 0; k < 2; ++k) {
    const std::string sim = dir_ + "/sim-" + std::to_string(k);
    const std::string net = dir_ + "/net-" + std::to_string(k);
    Process run({MurmurBin(), "run", config, "--out", sim, "--quiet"});
    ASSERT_EQ(run.Wait(Clock::now() + kDeadline), 0) << run.log();
    Process launch({MurmurBin(), "launch", "4", config, "--out", net, "--quiet"});
    ASSERT_EQ(launch.Wait(Clock::now() + kDeadline), 0) << launch.log();
    sims.push_back(AccuracyAndLoss(sim));
    nets.push_back(AccuracyAndLoss(net));
    ASSERT_EQ(nets.back().size(), 4u);
  }
  EXPECT_EQ(sims[0], sims[1]);  // the simulator replays its seeded noise
  // Round 0 is the initial model; every later row carries noise.
  for (size_t r = 1; r < 4; ++r) {
    EXPECT_NE(nets[0][r].second, nets[1][r].second) << "round " << r;
    EXPECT_NE(nets[0][r].second, sims[0][r].second) << "round " << r;
  }
}
