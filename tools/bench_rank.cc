// One rank of `murmur bench allreduce` (bench_command.h): a NetHost over
// the key material the parent wrote, an AllReduceJob of reps + 1
// all-reduces (the first a warm-up), and a check of every reduced value.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_command.h"
#include "cli_common.h"
#include "murmur/collective/allreduce_job.h"
#include "murmur/runtime/net_host.h"

namespace murmur::cli {
namespace {

using Clock = std::chrono::steady_clock;

class CountingSink final : public MetricsSink {
 public:
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view, int64_t) override {}
};

// Rank r's input at iteration k, element j: small integers, so every sum
// over at most 1024 ranks is exact in float32.
float Input(int64_t r, int k, size_t j) {
  return static_cast<float>((r + 1) + k + static_cast<int64_t>(j & 7));
}
float ExpectedSum(int64_t n, int k, size_t j) {
  return static_cast<float>(n * (n + 1) / 2 + n * k + n * static_cast<int64_t>(j & 7));
}

Result<net::NetSecurity> LoadRankSecurity(const BenchOptions& o) {
  const std::string dir = o.dir + "/rank-" + std::to_string(o.rank);
  MURMUR_ASSIGN_OR_RETURN(net::Identity identity, net::Identity::LoadOrCreate(dir + "/key"));
  net::NetSecurity security{.identity = std::move(identity), .plain = o.plain};
  MURMUR_ASSIGN_OR_RETURN(security.network_key, net::LoadNetworkKey(o.dir + "/network.key"));
  MURMUR_ASSIGN_OR_RETURN(security.allowlist, net::Allowlist::Load(o.dir + "/allow.txt"));
  return security;
}

}  // namespace

int BenchRank(const BenchOptions& o) {
  net::KeepFreedMessageMemory();
  Result<net::NetSecurity> security = LoadRankSecurity(o);
  if (!security.ok()) return Fail("bench", security.status());
  net::NetOptions net;
  net.self = PeerId(static_cast<uint32_t>(o.rank));
  net.num_slots = static_cast<uint32_t>(o.procs);
  net.listen = "127.0.0.1:0";
  if (!o.bootstrap.empty()) net.bootstrap = {o.bootstrap};
  net.backoff_min = Duration::Seconds(0.02);
  net.streams = static_cast<uint8_t>(o.streams);
  if (o.tcp) net.shm_ring_bytes = 0;
  net.start_timeout = Duration::Seconds(o.timeout_s);
  // A rank's loop fills and checks 16M floats per 64 MiB all-reduce; on a
  // loaded machine that can starve heartbeats for seconds. What is measured
  // here is the data path, not failure detection.
  net.peer_timeout = Duration::Seconds(60);
  net.handle_signals = true;
  CountingSink sink;
  auto host = net::NetHost::Create(net, std::move(security).value(), sink);
  if (!host.ok()) return Fail("bench", host.status());
  std::printf("murmur bench rank %lld listening on %s\n", static_cast<long long>(o.rank),
              (*host)->listen_address().c_str());
  std::fflush(stdout);

  const size_t floats = o.floats();
  const int iterations = static_cast<int>(o.reps) + 1;
  std::vector<Clock::time_point> started(iterations);
  std::vector<double> seconds;
  size_t wrong = 0;
  double last_sum = 0;  // of the last result: the parent checks the ranks agree
  bool failed = false;
  collective::AllReduceJobOptions job;
  job.iterations = iterations;
  job.length = floats;
  job.max_attempts = 1;  // a lost peer fails the benchmark
  job.fill = [&](int k, std::span<float> b) {
    for (size_t j = 0; j < b.size(); ++j) b[j] = Input(o.rank, k, j);
    started[k] = Clock::now();
  };
  job.on_result = [&](Host&, int k, const Status& s, std::span<const float> result,
                      const std::vector<PeerId>&) {
    if (k > 0) seconds.push_back(std::chrono::duration<double>(Clock::now() - started[k]).count());
    if (!s.ok()) {
      std::fprintf(stderr, "murmur bench: rank %lld: all-reduce %d: %s\n",
                   static_cast<long long>(o.rank), k, s.ToString().c_str());
      failed = true;
      return;
    }
    for (size_t j = 0; j < result.size(); ++j) wrong += result[j] != ExpectedSum(o.procs, k, j);
    last_sum = 0;
    for (float v : result) last_sum += v;
  };
  collective::CollectiveOptions co;
  co.chunk_floats = static_cast<size_t>(o.chunk_kib) * 256;
  co.timeout = Duration::Seconds(o.timeout_s);
  std::vector<PeerId> members;
  for (int64_t i = 0; i < o.procs; ++i) members.push_back(PeerId(static_cast<uint32_t>(i)));
  collective::AllReduceJob node(job, std::make_unique<collective::CollectiveGroup>(
                                         co, net.self, std::move(members)));
  Status run = (*host)->Run(node, [&] { return node.finished() || failed; });
  if (!run.ok()) return Fail("bench", run);
  std::string times;
  for (double s : seconds) times += (times.empty() ? "" : ", ") + std::to_string(s * 1e6);
  std::printf("{\"rank\": %lld, \"completed\": %d, \"wrong\": %zu, \"result_sum\": %.1f, "
              "\"shm_links\": %llu, \"times_us\": [%s]}\n",
              static_cast<long long>(o.rank), node.completed(), wrong, last_sum,
              static_cast<unsigned long long>((*host)->stats().shm_links), times.c_str());
  std::fflush(stdout);
  return !failed && node.finished() && wrong == 0 ? 0 : kExitFailure;
}

}  // namespace murmur::cli
