#include "launch_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "cli_common.h"
#include "child_process.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/identity.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/net_run.h"
#include "murmur/experiment/peer_metrics.h"
#include "murmur/experiment/run_config.h"

namespace murmur::cli {
namespace {

using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_interrupted = 0;
void OnSignal(int) { g_interrupted = 1; }

int Fail(const Status& status) { return cli::Fail("launch", status); }

// One `murmur peer` child: stdout on a pipe (its ready and final lines),
// stderr appended to DIR/log.txt.
struct Child {
  std::vector<std::string> argv;  // its command, for a restart
  pid_t pid = -1;
  int stdout_fd = -1;
  std::string buffered;  // stdout not yet split into lines
  std::string address;   // from the ready line
  bool exited = false;
  int exit_code = -1;
  int restarts = 0;
};

Result<Child> SpawnPeer(const std::vector<std::string>& argv, const std::string& log_path) {
  MURMUR_ASSIGN_OR_RETURN(SpawnedChild spawned, Spawn(SpawnOptions{.program = argv[0],
                                                                   .argv = argv,
                                                                   .log_path = log_path}));
  return Child{.argv = argv, .pid = spawned.pid, .stdout_fd = spawned.stdout_fd};
}

// Reads what the child wrote to stdout; returns complete lines.
std::vector<std::string> DrainLines(Child& child) {
  std::vector<std::string> lines;
  if (child.stdout_fd < 0) return lines;
  char buf[4096];
  const ssize_t n = ::read(child.stdout_fd, buf, sizeof buf);
  if (n <= 0) {
    ::close(child.stdout_fd);
    child.stdout_fd = -1;
    return lines;
  }
  child.buffered.append(buf, static_cast<size_t>(n));
  size_t nl;
  while ((nl = child.buffered.find('\n')) != std::string::npos) {
    lines.push_back(child.buffered.substr(0, nl));
    child.buffered.erase(0, nl + 1);
    // Its "... listening on ADDR" line (again after a restart: a new port).
    const std::string marker = " listening on ";
    if (auto at = lines.back().find(marker); at != std::string::npos) {
      child.address = lines.back().substr(at + marker.size());
    }
  }
  return lines;
}

// Waits up to `deadline` for the child's "... listening on ADDR" line.
Status AwaitReady(Child& child, Clock::time_point deadline, const std::string& log) {
  while (child.address.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Status::Timeout("peer did not start in time; see ", log);
    pollfd p{.fd = child.stdout_fd, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    (void)DrainLines(child);
    if (child.stdout_fd < 0 && child.address.empty()) {
      return Status::Unavailable("peer exited before listening; see ", log);
    }
  }
  return Status::Ok();
}

std::vector<std::vector<EvalRow>> ReadPeerRows(const std::string& out, int64_t nodes) {
  std::vector<std::vector<EvalRow>> rows;
  for (int64_t i = 0; i < nodes; ++i) {
    Result<std::vector<EvalRow>> r =
        ReadMetricsCsv(out + "/peer-" + std::to_string(i) + "/metrics.csv");
    if (r.ok()) rows.push_back(std::move(r).value());
  }
  return rows;
}

// Each peer's summary.json (written by `murmur peer` at exit) as one row of
// the simulator's peers.csv, plus the counters summed over peers. A peer
// whose summary is missing (it was killed) gets zeros and the role
// "unknown"; `finished` is false unless every peer says it finished.
struct PeerSummaries {
  std::vector<std::string> roles;
  std::vector<PeerTraffic> traffic;
  std::map<std::string, int64_t> counters;
  bool all_finished = true;
  bool first_report = false;  // some peer says the run's rows are first reports
  std::optional<double> epsilon;  // DP-SGD: the largest of the peers' own
};

PeerSummaries ReadPeerSummaries(const std::string& out, int64_t nodes) {
  PeerSummaries s;
  for (int64_t i = 0; i < nodes; ++i) {
    const NodeSummary node = ReadNodeSummary(out + "/peer-" + std::to_string(i));
    s.roles.push_back(node.role);
    s.traffic.push_back(node.traffic);
    s.all_finished = s.all_finished && node.finished;
    s.first_report = s.first_report || node.first_report;
    for (const auto& [name, value] : node.counters) s.counters[name] += value;
    if (node.epsilon) s.epsilon = std::max(s.epsilon.value_or(0.0), *node.epsilon);
  }
  return s;
}

void PrintTable(const std::vector<EvalRow>& rows) {
  std::printf("\n%6s %10s %9s %9s %9s %9s %7s %12s\n", "round", "time_s", "acc_mean", "acc_min",
              "acc_max", "loss", "peers", "MB_sent");
  for (const EvalRow& row : rows) {
    std::printf("%6lld %10.2f %9.4f %9.4f %9.4f %9.4f %7lld %12.2f\n",
                static_cast<long long>(row.round), row.time_s, row.acc_mean, row.acc_min,
                row.acc_max, row.loss_mean, static_cast<long long>(row.peers_evaluated),
                static_cast<double>(row.bytes_sent) / 1e6);
  }
}

// Writes the run's config.toml and fresh admission material: a network key
// and one key per slot, bound to its slot by the allowlist.
Status WriteLaunchFiles(const std::string& out, const std::string& resolved_toml,
                        int64_t nodes) {
  MURMUR_RETURN_IF_ERROR(CreateOutputDir(out));
  std::error_code ec;
  std::ofstream(out + "/config.toml", std::ios::trunc) << resolved_toml;
  const std::string network_key = out + "/network.key";
  std::filesystem::remove(network_key, ec);
  if (Status s = net::CreateNetworkKeyFile(network_key); !s.ok()) return s;
  net::Allowlist allow;
  for (int64_t i = 0; i < nodes; ++i) {
    const std::string dir = out + "/peer-" + std::to_string(i);
    std::filesystem::create_directories(dir, ec);
    // A launch is a new run: the peers' files of an earlier one in `out` go
    // (a peer restarted within this run appends to its own, net_run.cc).
    for (const char* file : {"/log.txt", "/config.toml", "/metrics.jsonl", "/metrics.csv",
                             "/summary.json", "/run_start.txt", "/peer_state.bin",
                             "/peer_state.bin.tmp"}) {
      std::filesystem::remove(dir + file, ec);
    }
    Result<net::Identity> id = net::Identity::LoadOrCreate(dir + "/key");
    if (!id.ok()) return id.status();
    allow.Add(id->public_key(), PeerId(static_cast<uint32_t>(i)));
  }
  std::ofstream(out + "/allow.txt", std::ios::trunc) << allow.ToText();
  return Status::Ok();
}

// Starts one `murmur peer` per slot; slot 0 first, whose address the others
// bootstrap from.
Result<std::vector<Child>> StartPeers(const std::string& out, int64_t nodes,
                                      const std::string& self_exe, const LaunchOptions& options) {
  std::vector<Child> children;
  for (int64_t i = 0; i < nodes; ++i) {
    const std::string dir = out + "/peer-" + std::to_string(i);
    std::vector<std::string> argv = {self_exe, "peer", out + "/config.toml",
                                     "--index", std::to_string(i),
                                     "--listen", "127.0.0.1:0",
                                     "--key", dir + "/key",
                                     "--network-key", out + "/network.key",
                                     "--allow", out + "/allow.txt",
                                     "--out", dir};
    if (options.plain) argv.push_back("--plain");
    if (options.persist_every > 0) {
      argv.push_back("--persist-every");
      argv.push_back(std::to_string(options.persist_every));
    }
    argv.insert(argv.end(), {"--streams", std::to_string(options.streams)});
    if (options.tcp) argv.push_back("--tcp");
    // One bootstrap address (slot 0's): the mesh forms through membership
    // exchange, with no two peers dialing each other at once.
    if (i > 0) {
      argv.push_back("--bootstrap");
      argv.push_back(children[0].address);
    }
    Result<Child> child = SpawnPeer(argv, dir + "/log.txt");
    if (!child.ok()) return child.status();
    children.push_back(std::move(child).value());
    if (i == 0) {
      if (Status s = AwaitReady(children[0], Clock::now() + std::chrono::seconds(120),
                                dir + "/log.txt");
          !s.ok()) {
        ::kill(children[0].pid, SIGKILL);
        return s;
      }
    }
  }
  return children;
}

// `--persist-every`: starts peer `i`, which SIGKILL killed (kill -9, the
// OOM killer, a host that stopped it), again with its command, at most
// kMaxPeerRestarts times. Not other signals: SIGINT and SIGTERM mean stop,
// and an abort or a fault would repeat from the same state. It resumes from its state file; it
// bootstraps from a live peer's address (the one in its command may be
// gone: a restarted slot 0 knows no one otherwise). Returns whether it did.
bool RestartKilledPeer(std::vector<Child>& children, size_t i, int wait_status,
                       const LaunchOptions& options) {
  Child& child = children[i];
  if (options.persist_every <= 0 || !WIFSIGNALED(wait_status) ||
      WTERMSIG(wait_status) != SIGKILL || child.restarts >= kMaxPeerRestarts) {
    return false;
  }
  auto live = std::find_if(children.begin(), children.end(), [&](const Child& c) {
    return &c != &child && !c.exited && !c.address.empty();
  });
  if (live == children.end()) return false;
  std::vector<std::string> argv = child.argv;
  if (auto at = std::find(argv.begin(), argv.end(), "--bootstrap"); at != argv.end()) {
    argv.erase(at, at + 2);
  }
  argv.push_back("--bootstrap");
  argv.push_back(live->address);
  const std::string log = options.out_dir + "/peer-" + std::to_string(i) + "/log.txt";
  Result<Child> restarted = SpawnPeer(argv, log);
  if (!restarted.ok()) {
    std::fprintf(stderr, "murmur launch: cannot restart peer %zu: %s\n", i,
                 restarted.status().message().c_str());
    return false;
  }
  if (child.stdout_fd >= 0) ::close(child.stdout_fd);
  const int restarts = child.restarts + 1;
  child = std::move(restarted).value();
  child.restarts = restarts;
  if (!options.quiet) {
    std::fprintf(stderr, "murmur launch: peer %zu was killed by signal %d; restarted it (%d of "
                 "%d), pid %d\n", i, WTERMSIG(wait_status), restarts, kMaxPeerRestarts,
                 static_cast<int>(child.pid));
  }
  return true;
}

// Merges the peers' rows and exit summaries into the run's metrics files,
// peers.csv and summary.json; returns the merged rows.
Result<std::vector<EvalRow>> WriteMergedResults(const std::string& out, const RunConfig& config,
                                                int64_t nodes) {
  const PeerSummaries peers = ReadPeerSummaries(out, nodes);
  std::vector<EvalRow> merged = MergePeerRows(
      ReadPeerRows(out, nodes), peers.first_report ? RowMerge::kFirstReport : RowMerge::kEveryPeer);
  std::vector<std::string> peer_dirs;
  for (int64_t i = 0; i < nodes; ++i) peer_dirs.push_back(out + "/peer-" + std::to_string(i));
  SetMergedEpsilon(config, peer_dirs, merged);
  Result<MetricsWriter> writer = MetricsWriter::Open(out, config.resolved_toml);
  if (!writer.ok()) return writer.status();
  for (const EvalRow& row : merged) {
    if (Status s = writer->Append(row); !s.ok()) return s;
  }
  if (Status st = WritePeerTraffic(out, peers.roles, peers.traffic); !st.ok()) return st;
  if (!merged.empty()) {
    // The peers' metrics rows carry what they sent; what was delivered and
    // the busiest peer come from their exit summaries.
    EvalRow last = merged.back();
    last.bytes_received = 0;
    last.max_peer_bytes = 0;
    for (const PeerTraffic& t : peers.traffic) {
      last.bytes_received += t.bytes_received;
      last.max_peer_bytes = std::max(last.max_peer_bytes, t.bytes_sent + t.bytes_received);
    }
    // DP-SGD: every peer's final guarantee, also those whose rows a server held.
    if (peers.epsilon) last.epsilon = std::max(last.epsilon.value_or(0.0), *peers.epsilon);
    const RunTotals totals{.virtual_time_s = merged.back().time_s,
                           .rounds = config.protocol.rounds,
                           .finished = peers.all_finished && merged.back().round == config.protocol.rounds,
                           .counters = peers.counters};
    if (Status st = WriteRunSummary(out, last, totals); !st.ok()) return st;
  }
  return merged;
}

}  // namespace

CLI::App* AddLaunchCommand(CLI::App& app, LaunchOptions& options) {
  CLI::App* launch = app.add_subcommand(
      "launch",
      "Run N peers as local processes over the network runtime (127.0.0.1),\n"
      "with a fresh network key and allowlist, and merge their metrics.");
  launch->add_option("n", options.peers, "Number of peers (sets `peers`)")
      ->required()
      ->check(CLI::Range(int64_t{1}, int64_t{1024}));
  launch->add_option("config", options.config_path, "TOML config file, as for `murmur run`")
      ->required();
  launch->add_option("--set", options.sets, "Override a config key (repeatable)")
      ->type_name("KEY=VALUE");
  launch->add_option("--out", options.out_dir,
                     "Output directory: merged metrics, and peer-I/ for each peer")
      ->type_name("DIR");
  launch->add_option("--timeout", options.timeout_s, "Stop every peer after this many seconds")
      ->check(CLI::Range(0.0, 1e9));
  launch->add_flag("--quiet", options.quiet, "No progress output");
  launch->add_option("--persist-every", options.persist_every,
                     "Each peer persists its state every N rounds in its peer-I/, and a peer "
                     "killed by SIGKILL (kill -9, the OOM killer) is restarted and resumes "
                     "from it (`murmur peer --persist-every`)")
      ->type_name("N")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  launch->add_flag("--plain", options.plain,
                   "Peers authenticate data frames but do not encrypt them (docs/wire.md)");
  launch->add_flag("--tcp", options.tcp,
                   "Every peer keeps its connections on TCP (`murmur peer --tcp`; by default "
                   "peers on one host exchange frames through shared memory)");
  launch->add_option("--streams", options.streams,
                     "TCP streams per link for every peer (`murmur peer --streams`)")
      ->check(CLI::Range(int64_t{1}, int64_t{net::kMaxStreams}));
  return launch;
}

int LaunchCommand(const LaunchOptions& options, const std::string& self_exe) {
  std::vector<std::string> sets = options.sets;
  sets.push_back("peers=" + std::to_string(options.peers));
  Result<RunConfig> run_config = LoadRunConfig(options.config_path, sets);
  if (!run_config.ok()) return Fail(run_config.status());
  if (Status st = CheckNetRunConfig(*run_config); !st.ok()) return Fail(st);
  if (options.persist_every > 0) {
    if (Status st = CheckPersistableRun(*run_config); !st.ok()) return Fail(st);
  }
  const bool has_server = HasServer(run_config->protocol);
  const int64_t nodes = options.peers + (has_server ? 1 : 0);
  const std::string& out = options.out_dir;

  if (Status st = WriteLaunchFiles(out, run_config->resolved_toml, nodes); !st.ok()) {
    return Fail(st);
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const auto start = Clock::now();
  Result<std::vector<Child>> started = StartPeers(out, nodes, self_exe, options);
  if (!started.ok()) return Fail(started.status());
  std::vector<Child> children = std::move(started).value();
  if (!options.quiet) {
    std::fprintf(stderr, "murmur launch: %lld peer processes, logs in %s/peer-*/log.txt\n",
                 static_cast<long long>(nodes), out.c_str());
  }

  const bool tty = isatty(STDERR_FILENO) == 1;
  const int64_t rounds = run_config->protocol.rounds;
  int64_t shown_round = -1;
  auto last_progress = Clock::now();
  bool terminated = false;
  std::optional<Clock::time_point> holders_done_at;
  for (;;) {
    std::vector<pollfd> fds;
    for (Child& c : children) {
      if (c.stdout_fd >= 0) fds.push_back(pollfd{.fd = c.stdout_fd, .events = POLLIN, .revents = 0});
    }
    ::poll(fds.data(), fds.size(), 250);
    for (Child& c : children) {
      if (c.stdout_fd < 0) continue;
      pollfd p{.fd = c.stdout_fd, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 0) > 0) DrainLines(c);
    }
    bool all_exited = true;
    for (size_t i = 0; i < children.size(); ++i) {
      Child& c = children[i];
      if (c.exited) continue;
      int status = 0;
      if (::waitpid(c.pid, &status, WNOHANG) == c.pid) {
        if (!terminated && !g_interrupted && RestartKilledPeer(children, i, status, options)) {
          all_exited = false;
          continue;
        }
        c.exited = true;
        c.exit_code = ExitCodeOf(status);
      } else {
        all_exited = false;
      }
    }
    if (all_exited) break;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    // The model holders (federated protocols: the server, the last slot)
    // decide the end; anyone still running 10 s after them is told to stop.
    const bool holders_exited = has_server ? children.back().exited
                                       : std::all_of(children.begin(), children.end(),
                                                     [](const Child& c) { return c.exited; });
    if (holders_exited && !holders_done_at) holders_done_at = Clock::now();
    const bool stragglers = holders_done_at && Clock::now() - *holders_done_at > std::chrono::seconds(10);
    if (!terminated && (g_interrupted || stragglers ||
                        (options.timeout_s > 0 && elapsed > options.timeout_s))) {
      terminated = true;
      for (Child& c : children) {
        if (!c.exited) ::kill(c.pid, SIGTERM);
      }
    }
    if (!options.quiet && Clock::now() - last_progress > std::chrono::milliseconds(500)) {
      last_progress = Clock::now();
      const std::vector<EvalRow> merged = MergePeerRows(ReadPeerRows(out, nodes));
      if (!merged.empty() && (tty || merged.back().round != shown_round)) {
        const EvalRow& row = merged.back();
        shown_round = row.round;
        std::fprintf(stderr, tty ? "\rround %lld/%lld  acc %.4f (min %.4f)  peers %lld  %5.1fs "
                                 : "round %lld/%lld acc_mean=%.4f acc_min=%.4f peers=%lld elapsed=%.1fs\n",
                     static_cast<long long>(row.round), static_cast<long long>(rounds),
                     row.acc_mean, row.acc_min, static_cast<long long>(row.peers_evaluated),
                     elapsed);
        std::fflush(stderr);
      }
    }
  }
  if (!options.quiet && tty) std::fprintf(stderr, "\n");

  Result<std::vector<EvalRow>> written = WriteMergedResults(out, *run_config, nodes);
  if (!written.ok()) return Fail(written.status());
  const std::vector<EvalRow>& merged = *written;
  if (!options.quiet) PrintTable(merged);
  int failed = 0;
  for (size_t i = 0; i < children.size(); ++i) {
    if (children[i].exit_code != 0) {
      ++failed;
      std::fprintf(stderr, "murmur launch: peer %zu exited with %d; see %s/peer-%zu/log.txt\n",
                   i, children[i].exit_code, out.c_str(), i);
    }
  }
  std::printf("wall time %.1fs; results in %s/\n",
              std::chrono::duration<double>(Clock::now() - start).count(), out.c_str());
  if (failed > 0 || merged.empty() || merged.back().round < rounds) return kExitFailure;
  return 0;
}

}  // namespace murmur::cli
