// Robust aggregation kernels: time per call for n inputs of dimension d,
// reported as ns per coordinate (time / d) and as input bandwidth
// (bytes_per_second = n * d * 4 bytes read per call). Two baselines read the
// same bytes: a sum reduction over all n vectors (read-only, like the rules)
// and a memcpy of them; they state what this machine's memory system gives
// one core, so each rule's GB/s can be read as a fraction of it. At
// d = 1e5 and n <= 50 the inputs (<= 20 MB) fit in the last-level cache, so
// those rows measure cache rather than DRAM bandwidth.
//
// Rows named .../threads:T run with a ThreadPool of T threads (T = the
// machine's hardware threads); the others on the calling thread.
// Run: ./build/robust_bench --benchmark_counters_tabular=true
//      (--benchmark_filter=median to pick rows). On a shared machine add
//      --benchmark_repetitions=5 --benchmark_report_aggregates_only=true and
//      read the _median rows.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/thread_pool.h"
#include "murmur/robust/factory.h"

namespace murmur {
namespace {

constexpr size_t kMaxN = 100;
constexpr size_t kMaxDim = 1000000;

// One data set for every row: kMaxN vectors of kMaxDim floats, around 1 with
// spread 1 (uniform), generated once; smaller shapes use prefixes.
const std::vector<std::vector<float>>& Data() {
  static const auto* data = [] {
    auto* rows = new std::vector<std::vector<float>>(kMaxN, std::vector<float>(kMaxDim));
    // A multiplicative hash per element: fast to generate, and random
    // enough that sorting networks and comparisons see no pattern (their
    // cost does not depend on the data anyway).
    for (size_t i = 0; i < kMaxN; ++i) {
      uint32_t state = static_cast<uint32_t>(Rng(1, PeerId(static_cast<uint32_t>(i)),
                                                 RngPurpose::kTest).NextU32());
      for (float& v : (*rows)[i]) {
        state = state * 1664525u + 1013904223u;
        v = 0.5f + static_cast<float>(state >> 8) * (1.0f / (1u << 24));
      }
    }
    return rows;
  }();
  return *data;
}

std::vector<std::span<const float>> Views(size_t n, size_t dim) {
  std::vector<std::span<const float>> views;
  for (size_t i = 0; i < n; ++i) views.emplace_back(Data()[i].data(), dim);
  return views;
}

ThreadPool* Pool(int threads) {
  static ThreadPool* pool = new ThreadPool(
      std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  return threads > 1 ? pool : nullptr;
}

int MachineThreads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// Reports what a row's numbers mean per call: the input bytes read
// (bytes_per_second, n * d * 4 per call) and ns_per_coord (wall time per
// call / d). Every row runs with UseRealTime, so rows with a thread pool
// are timed by the wall clock, not the calling thread's CPU time.
void SetCounters(benchmark::State& state, size_t n, size_t dim, double seconds) {
  const double calls = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(calls * n * dim * sizeof(float)));
  state.counters["ns_per_coord"] = seconds * 1e9 / (calls * static_cast<double>(dim));
  state.counters["n"] = static_cast<double>(n);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

void BM_SumReduction(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t dim = static_cast<size_t>(state.range(1));
  const auto views = Views(n, dim);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    // Eight independent float sums per vector so the loop vectorizes and is
    // limited by loads, not by the add latency.
    float acc[8] = {};
    for (const auto& v : views) {
      size_t k = 0;
      for (; k + 8 <= dim; k += 8) {
        for (int l = 0; l < 8; ++l) acc[l] += v[k + l];
      }
    }
    benchmark::DoNotOptimize(acc);
  }
  SetCounters(state, n, dim, Seconds(start));
}

// A blocked sum reduction on T threads, each over a contiguous slice of
// every vector (as the threaded rules split coordinates), with 8-wide
// accumulators per slice kept in registers: what the memory system gives T
// cores. With T = all hardware threads, this machine's memory bandwidth.
void BM_MemoryBandwidth(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t dim = static_cast<size_t>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const auto views = Views(n, dim);
  ThreadPool* pool = Pool(threads);
  const size_t slices = static_cast<size_t>(threads);
  std::vector<std::array<float, 8>> acc(slices);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const auto body = [&](size_t s) {
      const size_t begin = dim * s / slices / 8 * 8;
      const size_t end = s + 1 == slices ? dim / 8 * 8 : dim * (s + 1) / slices / 8 * 8;
      std::array<float, 8> a{};
      for (const auto& v : views) {
        for (size_t k = begin; k + 8 <= end; k += 8) {
          for (int l = 0; l < 8; ++l) a[l] += v[k + l];
        }
      }
      acc[s] = a;
    };
    if (pool != nullptr) {
      pool->ParallelFor(slices, body);
    } else {
      body(0);
    }
    benchmark::DoNotOptimize(acc.data());
  }
  SetCounters(state, n, dim, Seconds(start));
  state.counters["threads"] = threads;
}

void BM_Memcpy(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t dim = static_cast<size_t>(state.range(1));
  const auto views = Views(n, dim);
  std::vector<float> dst(dim);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (const auto& v : views) {
      std::memcpy(dst.data(), v.data(), dim * sizeof(float));
      benchmark::ClobberMemory();
    }
  }
  SetCounters(state, n, dim, Seconds(start));
}

void BM_Rule(benchmark::State& state, const char* rule) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t dim = static_cast<size_t>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  // f = n / 5 Byzantine inputs tolerated: 2, 10 and 20 for n = 10, 50, 100.
  AggregatorConfig config{.rule = rule, .f = static_cast<int>(n / 5), .options = {},
                          .pre = {}};
  if (config.rule == "mean") config.f = 0;
  auto made = MakeAggregator(config, Pool(threads));
  if (!made.ok()) {
    state.SkipWithError(made.status().ToString().c_str());
    return;
  }
  const std::unique_ptr<Aggregator> aggregator = std::move(made).value();
  const auto views = Views(n, dim);
  std::vector<float> out(dim);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    Status s = aggregator->Aggregate(views, out);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, n, dim, Seconds(start));
  state.counters["threads"] = threads;
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int64_t dim : {100000, 1000000}) {
    for (int64_t n : {10, 50, 100}) b->Args({n, dim, 1});
  }
}

void BaselineShapes(benchmark::internal::Benchmark* b) {
  for (int64_t dim : {100000, 1000000}) {
    for (int64_t n : {10, 50, 100}) b->Args({n, dim});
  }
}

// The shapes the issue states targets for, on all hardware threads.
void ThreadedShapes(benchmark::internal::Benchmark* b) {
  b->Args({50, 1000000, MachineThreads()});
  b->Args({100, 1000000, MachineThreads()});
}

BENCHMARK(BM_SumReduction)->Apply(BaselineShapes)->ArgNames({"n", "d"})
    ->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MemoryBandwidth)->Args({50, 1000000, 1})->Args({100, 1000000, 1})
    ->Apply(ThreadedShapes)->ArgNames({"n", "d", "threads"})->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Memcpy)->Apply(BaselineShapes)->ArgNames({"n", "d"})
    ->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, mean, "mean")->Apply(Shapes)->ArgNames({"n", "d", "threads"})
    ->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, median, "median")->Apply(Shapes)
    ->ArgNames({"n", "d", "threads"})->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, trimmed_mean, "trimmed-mean")->Apply(Shapes)
    ->ArgNames({"n", "d", "threads"})->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, krum, "krum")->Apply(Shapes)->ArgNames({"n", "d", "threads"})
    ->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, geometric_median, "geometric-median")->Apply(Shapes)
    ->ArgNames({"n", "d", "threads"})->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, median_mt, "median")->Apply(ThreadedShapes)
    ->ArgNames({"n", "d", "threads"})->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, trimmed_mean_mt, "trimmed-mean")->Apply(ThreadedShapes)
    ->ArgNames({"n", "d", "threads"})->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Rule, krum_mt, "krum")->Apply(ThreadedShapes)
    ->ArgNames({"n", "d", "threads"})->MinTime(0.2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace murmur

BENCHMARK_MAIN();
