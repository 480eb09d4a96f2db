// `murmur bench allreduce`: the ring all-reduce (collective/) over real
// `murmur` processes on 127.0.0.1, each its own NetHost, with a fresh
// network key and allowlist as `murmur launch` makes them. Every rank
// checks every reduced value (the inputs are small integers, so the float
// sums are exact), and the parent prints one JSON line: procs, mib, bytes,
// plain, reps, latency_us (the slowest rank's median time per all-reduce
// after one warm-up), latency_min_us, algbw_gbps (bytes / latency),
// busbw_gbps (algbw x 2 (n-1) / n, the NCCL-tests convention), verified,
// and transport: "shared-memory" when every link moved its frames to
// shared memory (the default between processes of one host), "tcp" when
// none did (--tcp), else "mixed".
// A rank is the same subcommand with the hidden --rank (bench_rank.cc).
#pragma once

#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace murmur::cli {

struct BenchOptions {
  int64_t procs = 2;
  double mib = 1;
  int64_t bytes = 0;  // > 0: the size in bytes instead of --mib
  bool plain = false;
  int64_t streams = 1;  // TCP streams per link
  bool tcp = false;     // no shared memory between the ranks (NetOptions::shm_ring_bytes = 0)
  int64_t reps = 5;
  int64_t chunk_kib = 128;
  double timeout_s = 300;
  std::string dir;  // key material and logs; empty: a fresh temporary one
  // A rank process (set by the parent): its index, slot 0's address.
  int64_t rank = -1;
  std::string bootstrap;

  // Floats per all-reduce.
  size_t floats() const;
};

CLI::App* AddBenchCommand(CLI::App& app, BenchOptions& options);
// 0 when every rank finished and verified its results; 2 for bad
// arguments; 1 otherwise.
int BenchCommand(const BenchOptions& options, const std::string& self_exe);
// One rank (bench_rank.cc): prints "... listening on ADDR", then one JSON
// line with its per-iteration times and whether its results were exact.
int BenchRank(const BenchOptions& options);

}  // namespace murmur::cli
