#include "bench_command.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.h"
#include "cli_common.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/identity.h"

namespace murmur::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Rank {
  pid_t pid = -1;
  int fd = -1;
  std::string buffered;
  std::vector<std::string> lines;
  int exit_code = -1;
};

// Reads what is there on the rank's stdout into complete lines.
void Drain(Rank& r) {
  char buf[4096];
  const ssize_t n = ::read(r.fd, buf, sizeof buf);
  if (n <= 0) {
    ::close(r.fd);
    r.fd = -1;
    return;
  }
  r.buffered.append(buf, static_cast<size_t>(n));
  for (size_t nl; (nl = r.buffered.find('\n')) != std::string::npos;) {
    r.lines.push_back(r.buffered.substr(0, nl));
    r.buffered.erase(0, nl + 1);
  }
}

// Polls every rank's stdout until `done` or the deadline; false on timeout.
template <typename Done>
bool PollUntil(std::vector<Rank>& ranks, Clock::time_point deadline, Done done) {
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::vector<pollfd> fds;
    for (Rank& r : ranks) {
      if (r.fd >= 0) fds.push_back(pollfd{.fd = r.fd, .events = POLLIN, .revents = 0});
    }
    if (fds.empty()) return done();
    ::poll(fds.data(), fds.size(), 200);
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      for (Rank& r : ranks) {
        if (r.fd == p.fd) Drain(r);
      }
    }
  }
  return true;
}

std::string AddressOf(const Rank& r) {
  const std::string marker = " listening on ";
  for (const std::string& line : r.lines) {
    if (auto at = line.find(marker); at != std::string::npos) return line.substr(at + marker.size());
  }
  return "";
}

// A network key, one key per rank and the allowlist binding them to slots.
Status WriteKeys(const std::string& dir, int64_t procs) {
  MURMUR_RETURN_IF_ERROR(CreateOutputDir(dir, "--dir"));
  std::error_code ec;
  std::filesystem::remove(dir + "/network.key", ec);
  MURMUR_RETURN_IF_ERROR(net::CreateNetworkKeyFile(dir + "/network.key"));
  net::Allowlist allow;
  for (int64_t i = 0; i < procs; ++i) {
    const std::string rank_dir = dir + "/rank-" + std::to_string(i);
    std::filesystem::create_directories(rank_dir, ec);
    MURMUR_ASSIGN_OR_RETURN(net::Identity id, net::Identity::LoadOrCreate(rank_dir + "/key"));
    allow.Add(id.public_key(), PeerId(static_cast<uint32_t>(i)));
  }
  std::ofstream(dir + "/allow.txt", std::ios::trunc) << allow.ToText();
  return Status::Ok();
}

Result<Rank> SpawnRank(const BenchOptions& o, const std::string& self_exe, int64_t i,
                       const std::string& bootstrap) {
  std::vector<std::string> argv = {
      self_exe, "bench", "allreduce", "--rank", std::to_string(i), "--dir", o.dir,
      "--procs", std::to_string(o.procs), "--bytes", std::to_string(o.floats() * 4),
      "--reps", std::to_string(o.reps), "--chunk-kib", std::to_string(o.chunk_kib),
      "--timeout", std::to_string(o.timeout_s)};
  if (o.plain) argv.push_back("--plain");
  if (o.tcp) argv.push_back("--tcp");
  argv.insert(argv.end(), {"--streams", std::to_string(o.streams)});
  if (!bootstrap.empty()) argv.insert(argv.end(), {"--bootstrap", bootstrap});
  MURMUR_ASSIGN_OR_RETURN(
      SpawnedChild child,
      Spawn(SpawnOptions{.program = self_exe,
                         .argv = argv,
                         .log_path = o.dir + "/rank-" + std::to_string(i) + "/log.txt",
                         .log_mode = SpawnOptions::Log::kTruncate}));
  return Rank{.pid = child.pid, .fd = child.stdout_fd};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The ranks' result lines as the bench's JSON line; kInternal naming the
// first rank that failed or found a wrong value.
Result<nlohmann::json> Summarize(const BenchOptions& o, const std::vector<Rank>& ranks) {
  double latency = 0, fastest = 1e300, result_sum = 0;
  int64_t shm_links = 0;
  for (size_t i = 0; i < ranks.size(); ++i) {
    const std::string& last = ranks[i].lines.empty() ? "" : ranks[i].lines.back();
    const nlohmann::json r = nlohmann::json::parse(last, nullptr, false);
    if (ranks[i].exit_code != 0 || !r.is_object() || r.value("wrong", 1) != 0 ||
        r.value("completed", 0) != o.reps + 1) {
      return Status::Internal("rank ", i, " exited with ", ranks[i].exit_code, " (",
                              last.empty() ? "no result" : last, "); see ", o.dir, "/rank-", i,
                              "/log.txt");
    }
    if (i == 0) result_sum = r.value("result_sum", 0.0);
    if (r.value("result_sum", 0.0) != result_sum) {
      return Status::Internal("rank ", i, "'s last result sums to ", r.value("result_sum", 0.0),
                              ", rank 0's to ", result_sum);
    }
    shm_links += r.value("shm_links", int64_t{0});
    const std::vector<double> t = r["times_us"].get<std::vector<double>>();
    latency = std::max(latency, Median(t));
    fastest = std::min(fastest, *std::min_element(t.begin(), t.end()));
  }
  const double bytes = static_cast<double>(o.floats()) * 4;
  const double algbw = bytes / (latency * 1e-6) / 1e9;
  const double n = static_cast<double>(o.procs);
  // Every rank links to every other; a link's data goes over one
  // connection, or over streams - 1 (the first then carries control only).
  const int64_t connections = o.procs * (o.procs - 1) * (o.streams > 1 ? o.streams - 1 : 1);
  const char* transport = shm_links == 0 ? "tcp" : shm_links >= connections ? "shared-memory" : "mixed";
  return nlohmann::json{{"transport", transport}, {"shm_links", shm_links},{"procs", o.procs},        {"mib", bytes / 1048576.0},
                        {"bytes", bytes},          {"plain", o.plain}, {"streams", o.streams},
                        {"reps", o.reps},          {"chunk_kib", o.chunk_kib},
                        {"latency_us", latency},   {"latency_min_us", fastest},
                        {"algbw_gbps", algbw},     {"busbw_gbps", algbw * 2 * (n - 1) / n},
                        {"result_sum", result_sum}, {"verified", true}};
}

int RunBench(BenchOptions o, const std::string& self_exe) {
  bool temporary = false;
  if (o.dir.empty()) {
    char tmpl[] = "/tmp/murmur-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Fail("bench", Status::Unavailable("mkdtemp failed"));
    o.dir = tmpl;
    temporary = true;
  }
  if (Status s = WriteKeys(o.dir, o.procs); !s.ok()) return Fail("bench", s);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(o.timeout_s));
  std::vector<Rank> ranks;
  Status status = Status::Ok();
  for (int64_t i = 0; i < o.procs && status.ok(); ++i) {
    Result<Rank> r = SpawnRank(o, self_exe, i, i == 0 ? "" : AddressOf(ranks[0]));
    if (!r.ok()) {
      status = r.status();
      break;
    }
    ranks.push_back(std::move(r).value());
    if (i == 0 && !PollUntil(ranks, deadline, [&] { return !AddressOf(ranks[0]).empty() || ranks[0].fd < 0; })) {
      status = Status::Timeout("rank 0 did not start; see ", o.dir, "/rank-0/log.txt");
    }
    if (i == 0 && status.ok() && AddressOf(ranks[0]).empty()) {
      status = Status::Unavailable("rank 0 exited before listening; see ", o.dir, "/rank-0/log.txt");
    }
  }
  if (status.ok() && !PollUntil(ranks, deadline, [&] {
        return std::all_of(ranks.begin(), ranks.end(), [](const Rank& r) { return r.fd < 0; });
      })) {
    status = Status::Timeout("the all-reduces did not finish within --timeout ", o.timeout_s, " s");
  }
  for (Rank& r : ranks) {
    if (!status.ok()) ::kill(r.pid, SIGKILL);
    int ws = 0;
    ::waitpid(r.pid, &ws, 0);
    r.exit_code = ExitCodeOf(ws);
    if (r.fd >= 0) ::close(r.fd);
  }
  if (!status.ok()) return Fail("bench", status);
  Result<nlohmann::json> line = Summarize(o, ranks);
  if (!line.ok()) return Fail("bench", line.status());
  std::printf("%s\n", line->dump().c_str());
  std::error_code ec;
  if (temporary) std::filesystem::remove_all(o.dir, ec);
  return 0;
}

}  // namespace

size_t BenchOptions::floats() const {
  if (bytes > 0) return std::max<size_t>(1, static_cast<size_t>(bytes) / 4);
  return std::max<size_t>(1, static_cast<size_t>(mib * 1048576.0 / 4));
}

CLI::App* AddBenchCommand(CLI::App& app, BenchOptions& options) {
  CLI::App* bench = app.add_subcommand(
      "bench",
      "Benchmarks over real processes: `murmur bench allreduce --procs 4 --mib 64\n"
      "[--plain]` times the ring all-reduce and checks its results (JSON line).");
  bench->require_subcommand(1);
  CLI::App* ar = bench->add_subcommand(
      "allreduce",
      "Ring all-reduce over N `murmur` processes on 127.0.0.1 (authenticated and\n"
      "encrypted sessions; --plain: authenticated only; the frames move to shared\n"
      "memory after the handshake unless --tcp). Checks every reduced value and\n"
      "prints one JSON line: busbw_gbps, algbw_gbps, latency_us, procs, mib, plain,\n"
      "transport.");
  ar->add_option("--procs", options.procs, "Processes (ranks)")->check(CLI::Range(int64_t{2}, int64_t{64}));
  ar->add_option("--mib", options.mib, "MiB per all-reduce (float32)")->check(CLI::Range(1e-6, 1024.0));
  ar->add_option("--bytes", options.bytes, "Bytes per all-reduce instead of --mib (4: one float)")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 30));
  ar->add_flag("--plain", options.plain,
               "Authenticate the data frames but do not encrypt them (private clusters)");
  ar->add_flag("--tcp", options.tcp,
               "Every link over loopback TCP: no shared memory between the ranks (by default\n"
               "processes on one host move their sealed session's frames to shared memory;\n"
               "docs/runtime.md, \"Peers on the same host\")");
  ar->add_option("--streams", options.streams, "TCP streams per link (docs/runtime.md)")
      ->check(CLI::Range(int64_t{1}, int64_t{net::kMaxStreams}));
  ar->add_option("--reps", options.reps, "Timed all-reduces after one warm-up")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  ar->add_option("--chunk-kib", options.chunk_kib, "KiB per ring message")
      ->check(CLI::Range(int64_t{1}, int64_t{1000}));
  ar->add_option("--timeout", options.timeout_s, "Give up after this many seconds")
      ->check(CLI::Range(1.0, 1e6));
  ar->add_option("--dir", options.dir, "Keep keys and rank logs here (default: a temporary directory)");
  // Set by the parent for its rank processes.
  ar->add_option("--rank", options.rank)->group("");
  ar->add_option("--bootstrap", options.bootstrap)->group("");
  return bench;
}

int BenchCommand(const BenchOptions& options, const std::string& self_exe) {
  if (options.rank >= 0) {
    if (options.rank >= options.procs || options.dir.empty()) {
      return Fail("bench", Status::InvalidArgument("--rank needs --dir and a rank below --procs"));
    }
    return BenchRank(options);
  }
  return RunBench(options, self_exe);
}

}  // namespace murmur::cli
