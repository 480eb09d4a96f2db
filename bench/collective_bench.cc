// Bus bandwidth of murmur's ring all-reduce (collective/, over NetHost:
// sessions authenticated over TCP on 127.0.0.1, encrypted, and plain:
// authenticated only; their frames then move to shared memory, the
// default between peers of one host, or stay on TCP in the "-tcp" modes)
// against Gloo's AllreduceRing (Debian libgloo-dev, TCP transport on
// 127.0.0.1) in the same run: the ranks are threads of this process, each
// with its own host (murmur) or context (Gloo). Prints one line per
// (implementation, ranks, MiB) and the ratios to Gloo. `murmur bench
// allreduce` measures murmur over separate processes instead.
//
//   build/collective_bench [--ranks 2,4] [--mib 1,16,64] [--reps 3] [--chunk-kib 128]
//                          [--window-chunks 32]
//                          [--modes encrypted,plain,encrypted-tcp,plain-tcp]
//                          [--impl murmur|gloo|both]
//                          [--streams K]
//
// busbw = bytes x 2 (n-1) / n / seconds per all-reduce (the NCCL-tests
// convention: what each link carries); algbw = bytes / seconds. The time
// of one all-reduce is the mean over `reps` after one warm-up, as seen by
// rank 0. --streams K: TCP streams per murmur link (NetOptions::streams;
// the rows are then "murmur-sK" and "murmur-plain-sK"). Built by the
// default build, not run by the tests.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "murmur/collective/allreduce_job.h"
#include "murmur/runtime/net_host.h"

#ifdef MURMUR_HAVE_GLOO
#include <gloo/allreduce_ring.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/hash_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>
#endif

namespace murmur {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int> ParseList(const char* text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

// Seconds per all-reduce of `floats` over `ranks` murmur peers; < 0 on error.
double MurmurSeconds(int ranks, size_t floats, int reps, size_t chunk_floats, size_t window,
                     bool plain, bool tcp, int streams) {
  std::vector<NullMetricsSink> sinks(ranks);
  std::vector<std::unique_ptr<net::NetHost>> hosts;
  net::NetworkKey psk{};
  psk.fill(3);
  for (int i = 0; i < ranks; ++i) {
    net::NetOptions o;
    o.self = PeerId(i);
    o.num_slots = static_cast<uint32_t>(ranks);
    o.backoff_min = Duration::Seconds(0.02);
    o.streams = static_cast<uint8_t>(streams);
    if (tcp) o.shm_ring_bytes = 0;
    if (i > 0) o.bootstrap = {hosts[0]->listen_address()};
    auto h = net::NetHost::Create(o, net::NetSecurity{.identity = net::Identity::Generate(),
                                                      .network_key = psk,
                                                      .plain = plain},
                                  sinks[i]);
    if (!h.ok()) {
      std::fprintf(stderr, "murmur: %s\n", h.status().ToString().c_str());
      return -1;
    }
    hosts.push_back(std::move(h).value());
  }
  std::vector<PeerId> members;
  for (int i = 0; i < ranks; ++i) members.push_back(PeerId(i));
  collective::CollectiveOptions co;
  co.chunk_floats = chunk_floats;
  co.window_chunks = window;
  co.timeout = Duration::Seconds(60);
  std::vector<std::unique_ptr<collective::AllReduceJob>> jobs;
  std::vector<Clock::time_point> done_at(reps + 1);
  bool failed = false;
  for (int i = 0; i < ranks; ++i) {
    collective::AllReduceJobOptions job;
    job.iterations = reps + 1;
    job.length = floats;
    // Inputs are written once: later iterations reduce the previous result
    // (the values do not matter here, and filling is not communication).
    job.fill = [i](int k, std::span<float> b) {
      if (k == 0) std::fill(b.begin(), b.end(), static_cast<float>(i % 3));
    };
    if (i == 0) {
      job.on_result = [&](Host&, int k, const Status& s, std::span<const float>,
                          const std::vector<PeerId>&) {
        done_at[k] = Clock::now();
        failed |= !s.ok();
      };
    }
    jobs.push_back(std::make_unique<collective::AllReduceJob>(
        job, std::make_unique<collective::CollectiveGroup>(co, PeerId(i), members)));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < ranks; ++i) {
    threads.emplace_back([&, i] { (void)hosts[i]->Run(*jobs[i], [&, i] { return jobs[i]->finished(); }); });
  }
  for (auto& t : threads) t.join();
  if (failed) return -1;
  return std::chrono::duration<double>(done_at[reps] - done_at[0]).count() / reps;
}

#ifdef MURMUR_HAVE_GLOO
double GlooSeconds(int ranks, size_t floats, int reps) {
  auto store = std::make_shared<gloo::rendezvous::HashStore>();
  std::vector<double> seconds(ranks, 0);
  // Contexts live until every rank is done: one that closes its pairs
  // while a neighbour still reads the last message breaks that neighbour.
  std::vector<std::shared_ptr<gloo::rendezvous::Context>> contexts(ranks);
  std::vector<std::shared_ptr<gloo::transport::Device>> devices(ranks);
  std::vector<std::thread> threads;
  static int round = 0;
  const std::string prefix = "bench" + std::to_string(round++);
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      gloo::transport::tcp::attr attr;
      attr.hostname = "127.0.0.1";
      auto device = devices[r] = gloo::transport::tcp::CreateDevice(attr);
      gloo::rendezvous::PrefixStore prefixed(prefix, *store);
      auto context = contexts[r] = std::make_shared<gloo::rendezvous::Context>(r, ranks);
      context->connectFullMesh(prefixed, device);
      std::vector<float> data(floats);
      for (size_t j = 0; j < floats; ++j) data[j] = static_cast<float>((r + j) % 7);
      std::vector<float*> ptrs = {data.data()};
      gloo::AllreduceRing<float> ring(context, ptrs, static_cast<int>(floats));
      ring.run();  // warm-up
      const auto start = Clock::now();
      for (int k = 0; k < reps; ++k) ring.run();
      seconds[r] = std::chrono::duration<double>(Clock::now() - start).count() / reps;
    });
  }
  for (auto& t : threads) t.join();
  return seconds[0];
}
#endif

void Report(const char* name, int ranks, double mib, double seconds) {
  const double bytes = mib < 0 ? -mib : mib * 1048576.0;
  const double algbw = bytes / seconds / 1e9;
  const double busbw = algbw * 2.0 * (ranks - 1) / ranks;
  std::printf("{\"impl\": \"%s\", \"ranks\": %d, \"mib\": %.0f, \"latency_us\": %.1f, "
              "\"algbw_gbps\": %.3f, \"busbw_gbps\": %.3f}\n",
              name, ranks, mib, seconds * 1e6, algbw, busbw);
}

int Main(int argc, char** argv) {
  net::KeepFreedMessageMemory();  // as `murmur bench` does
  std::vector<int> ranks = {2, 4}, mibs = {1, 16, 64};
  int reps = 3;
  // 128 KiB messages by default: several per segment pipeline even at
  // 1 MiB, and each fits one runtime frame (kDataChunk, 1 MiB).
  int chunk_kib = 128;
  int window = static_cast<int>(collective::CollectiveOptions{}.window_chunks);
  std::string impl = "both";
  int streams = 1;
  std::vector<std::string> modes = {"encrypted", "plain", "encrypted-tcp", "plain-tcp"};
  constexpr const char* kUsage =
      "usage: collective_bench [--ranks 2,4] [--mib 1,16,64] [--reps 3] [--chunk-kib 128]\n"
      "                        [--window-chunks 32]\n"
      "                        [--modes encrypted,plain,encrypted-tcp,plain-tcp]\n"
      "                        [--impl murmur|gloo|both] [--streams K]\n"
      "(--mib -4 is 4 bytes; prints one JSON line per run and the murmur / Gloo ratios)\n";
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "collective_bench: %s needs a value\n%s", flag.c_str(), kUsage);
      return 2;
    }
    if (flag == "--ranks") {
      ranks = ParseList(argv[i + 1]);
    } else if (flag == "--mib") {
      mibs = ParseList(argv[i + 1]);
    } else if (flag == "--impl") {
      impl = argv[i + 1];
    } else if (flag == "--modes") {
      modes.clear();
      std::stringstream in(argv[i + 1]);
      for (std::string m; std::getline(in, m, ',');) modes.push_back(m);
    } else if (flag == "--chunk-kib") {
      chunk_kib = std::atoi(argv[i + 1]);
    } else if (flag == "--window-chunks") {
      window = std::atoi(argv[i + 1]);
    } else if (flag == "--reps") {
      reps = std::atoi(argv[i + 1]);
    } else if (flag == "--streams") {
      streams = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "collective_bench: unknown flag %s (use --ranks, --mib, --reps, --chunk-kib, --window-chunks, --modes encrypted,plain,encrypted-tcp,plain-tcp, --impl murmur|gloo|both, --streams K)\n",
                   flag.c_str());
      return 2;
    }
  }
  for (const std::string& m : modes) {
    if (m != "encrypted" && m != "plain" && m != "encrypted-tcp" && m != "plain-tcp") {
      std::fprintf(stderr, "collective_bench: --modes takes encrypted, plain, encrypted-tcp, "
                           "plain-tcp, not %s\n", m.c_str());
      return 2;
    }
  }
  if (reps < 1 || chunk_kib < 1 || chunk_kib > 1000 || window < 0 || streams < 1 ||
      streams > 8) {
    std::fprintf(stderr, "collective_bench: --reps must be at least 1, --chunk-kib 1..1000, "
                         "--window-chunks at least 0 (0: none), --streams 1..8\n");
    return 2;
  }
  for (int n : ranks) {
    for (int mib : mibs) {
      // A negative size is in bytes (e.g. --mib -4: one float, the latency).
      const size_t floats = mib < 0 ? static_cast<size_t>(-mib) / 4
                                    : static_cast<size_t>(mib) * 1048576 / 4;
      std::vector<std::pair<std::string, double>> ours;
      if (impl != "gloo") {
        for (const std::string& mode : modes) {
          const bool plain = mode.starts_with("plain");
          const bool tcp = mode.ends_with("-tcp");
          const double t = MurmurSeconds(n, floats, reps, static_cast<size_t>(chunk_kib) * 256,
                                         static_cast<size_t>(window), plain, tcp, streams);
          if (t < 0) return 1;
          const std::string suffix = streams > 1 ? "-s" + std::to_string(streams) : "";
          Report((std::string(plain ? "murmur-plain" : "murmur") + (tcp ? "-tcp" : "") + suffix)
                     .c_str(),
                 n, mib, t);
          ours.emplace_back(mode + suffix, t);
        }
      }
#ifdef MURMUR_HAVE_GLOO
      if (impl == "murmur") continue;
      const double gloo = GlooSeconds(n, floats, reps);
      Report("gloo", n, mib, gloo);
      for (const auto& [mode, t] : ours) {
        std::printf("{\"ranks\": %d, \"mib\": %d, \"mode\": \"%s\", \"murmur_over_gloo_busbw\": %.3f}\n",
                    n, mib, mode.c_str(), gloo / t);
      }
#endif
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace murmur

int main(int argc, char** argv) { return murmur::Main(argc, argv); }
