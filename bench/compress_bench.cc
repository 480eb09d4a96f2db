// Codec throughput: encode and decode GB/s of float input (4 bytes per
// coordinate, 1 GB = 1e9 bytes) for d in {1e6, 1e7}, one core, next to
// memcpy and zstd level 1 of the same float bytes. Counters: GB/s and ratio
// (fp32 bytes / frame bytes). Data: standard normal values, seeded.
//
// Every encode writes into a fresh ByteWriter reserved to MaxEncodedSize,
// as a sender does per message. By default glibc malloc is told to keep
// freed memory (no mmap, no trim), as a long-running process's allocator
// would, so the numbers measure the codec rather than the kernel's page
// faults on a fresh multi-megabyte buffer. MURMUR_BENCH_COLD_ALLOC=1 keeps
// glibc's defaults (large buffers are fresh mmaps: page faults included).
//
//   ./compress_bench                       # all codecs (~2-3 minutes)
//   ./compress_bench --benchmark_filter='int8|topk'
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/core/check.h"
#include "murmur/core/rng.h"

namespace {

using murmur::ByteWriter;
using murmur::Codec;
using murmur::CodecContext;
using murmur::PeerId;

const char* const kSpecs[] = {
    "fp32",       "fp16",        "bf16",          "int8",          "int4",
    "int2",       "sign",        "topk:0.01",     "topk:0.01|int8", "randk:0.01",
    "powersgd:4", "fedzip:0.01", "int8|zstd",     "topk:0.01|int8|zstd",
    "topk:0.05|int8",  // the CHOCO chains of docs/compression.md
};

const std::vector<float>& Data(size_t d) {
  static std::map<size_t, std::vector<float>> cache;
  auto it = cache.find(d);
  if (it == cache.end()) {
    murmur::Rng rng(2026, PeerId(0), murmur::RngPurpose::kTest);
    std::vector<float> x(d);
    for (float& v : x) v = static_cast<float>(rng.Normal());
    it = cache.emplace(d, std::move(x)).first;
  }
  return it->second;
}

void SetCounters(benchmark::State& state, size_t d, size_t frame_bytes) {
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(4 * d),
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["ratio"] = static_cast<double>(4 * d) / static_cast<double>(frame_bytes);
}

void BM_Encode(benchmark::State& state, const Codec* codec, size_t d) {
  const std::vector<float>& x = Data(d);
  size_t frame_bytes = 0;
  uint64_t step = 0;
  for (auto _ : state) {
    ByteWriter out(codec->MaxEncodedSize(d));
    const CodecContext ctx{.seed = 1, .sender = PeerId(0), .step = step++};
    MURMUR_CHECK(codec->Encode(x, ctx, out).ok());
    frame_bytes = out.size();
    benchmark::DoNotOptimize(out.bytes().data());
  }
  SetCounters(state, d, frame_bytes);
}

void BM_Decode(benchmark::State& state, const Codec* codec, size_t d) {
  const std::vector<float>& x = Data(d);
  const CodecContext ctx{.seed = 1, .sender = PeerId(0), .step = 0};
  ByteWriter frame;
  MURMUR_CHECK(codec->Encode(x, ctx, frame).ok());
  std::vector<float> out(d);
  for (auto _ : state) {
    MURMUR_CHECK(codec->Decode(frame.bytes(), ctx, out).ok());
    benchmark::DoNotOptimize(out.data());
  }
  SetCounters(state, d, frame.size());
}

void BM_Memcpy(benchmark::State& state, size_t d) {
  const std::vector<float>& x = Data(d);
  std::vector<float> out(d);
  for (auto _ : state) {
    std::memcpy(out.data(), x.data(), 4 * d);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, d, 4 * d);
}

void BM_ZstdCompress(benchmark::State& state, size_t d) {
  const std::vector<float>& x = Data(d);
  std::vector<uint8_t> dst(ZSTD_compressBound(4 * d));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  size_t n = 0;
  for (auto _ : state) {
    n = ZSTD_compressCCtx(cctx, dst.data(), dst.size(), x.data(), 4 * d, 1);
    MURMUR_CHECK(!ZSTD_isError(n));
    benchmark::DoNotOptimize(dst.data());
  }
  ZSTD_freeCCtx(cctx);
  SetCounters(state, d, n);
}

void BM_ZstdDecompress(benchmark::State& state, size_t d) {
  const std::vector<float>& x = Data(d);
  std::vector<uint8_t> src(ZSTD_compressBound(4 * d));
  src.resize(ZSTD_compress(src.data(), src.size(), x.data(), 4 * d, 1));
  std::vector<float> out(d);
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  for (auto _ : state) {
    const size_t n = ZSTD_decompressDCtx(dctx, out.data(), 4 * d, src.data(), src.size());
    MURMUR_CHECK(n == 4 * d);
    benchmark::DoNotOptimize(out.data());
  }
  ZSTD_freeDCtx(dctx);
  SetCounters(state, d, src.size());
}

}  // namespace

int main(int argc, char** argv) {
  const char* cold = std::getenv("MURMUR_BENCH_COLD_ALLOC");
  if (cold == nullptr || std::string(cold) != "1") {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  std::vector<std::unique_ptr<Codec>> codecs;
  for (const char* spec : kSpecs) {
    auto c = murmur::MakeCodec(spec);
    MURMUR_CHECK(c.ok());
    codecs.push_back(std::move(c).value());
  }
  for (size_t d : {size_t{1000000}, size_t{10000000}}) {
    const std::string suffix = "/d=" + std::to_string(d);
    benchmark::RegisterBenchmark(("baseline/memcpy" + suffix).c_str(), BM_Memcpy, d)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("baseline/zstd1_compress" + suffix).c_str(), BM_ZstdCompress, d)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("baseline/zstd1_decompress" + suffix).c_str(),
                                 BM_ZstdDecompress, d)
        ->Unit(benchmark::kMillisecond);
    for (const auto& codec : codecs) {
      benchmark::RegisterBenchmark(("encode/" + codec->name() + suffix).c_str(), BM_Encode,
                                   codec.get(), d)
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("decode/" + codec->name() + suffix).c_str(), BM_Decode,
                                   codec.get(), d)
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
