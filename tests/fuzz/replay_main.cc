// Without libFuzzer (the default g++ build), each fuzz target is linked with
// this driver and run as a test: it feeds the target a fixed, seeded stream
// of inputs built from valid seeds by random truncation, bit flips, byte
// overwrites and length-field corruption, plus pure noise. With clang and
// -DMURMUR_FUZZ=ON the same targets build as real libFuzzer binaries.
//
// The stream is fixed (seeded), so a failure replays; it is also bounded in
// wall time (MURMUR_FUZZ_SECONDS, default 10) so that a slow or sanitized
// build keeps the test suite fast: it then stops early, after a prefix of
// the same stream, and says so.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "murmur/core/bytes.h"
#include "murmur/core/rng.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::vector<uint8_t>> Seeds() {
  std::vector<std::vector<uint8_t>> seeds;
  // A model message with 3 floats.
  murmur::ByteWriter m;
  m.WriteU8(1);
  m.WriteU32(5);
  m.WriteU64(0);
  m.WriteFloats(std::vector<float>{1.f, 2.f, 3.f});
  seeds.push_back(m.bytes());
  // An async FL update (kind 0x22) with 3 floats.
  murmur::ByteWriter a;
  a.WriteU8(0x22);
  a.WriteU32(7);
  a.WriteU64(100);
  a.WriteU64(20);
  a.WriteF64(0.5);
  a.WriteFloats(std::vector<float>{1.f, 2.f, 3.f});
  seeds.push_back(a.bytes());
  // An IDX array of 2x3 unsigned bytes (big-endian dims).
  seeds.push_back({0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6});
  // codec_fuzz (byte 0 picks the codec, byte 1 the mode): top-k, mode 1
  // (encode 64 values, then apply the 4 trailing edit bytes).
  seeds.push_back({7, 1, 64, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                   9, 0x10, 3, 0x80});
  // codec_fuzz: FEDZIP, mode 1, 100 values, no edits.
  seeds.push_back({13, 1, 100, 0, 200, 3, 77, 150, 9, 31, 64, 128});
  // codec_fuzz: fp32, mode 0: a raw frame of the values 1 and 2.
  seeds.push_back({0, 0, 1, 2, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40});
  // npy_fuzz: a version 1.0 .npy file of shape (2,) holding 1.0 and 2.0.
  {
    const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    std::vector<uint8_t> npy = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                static_cast<uint8_t>(header.size()), 0};
    npy.insert(npy.end(), header.begin(), header.end());
    npy.insert(npy.end(), {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40});
    seeds.push_back(npy);
  }
  {
    // coded_message_fuzz: a CHOCO delta for round 1 carrying an fp32 frame of
    // 16 values (header: kind, round, weight, sequence; frame: id, dim).
    murmur::ByteWriter c;
    c.WriteU8(16);
    c.WriteU32(1);
    c.WriteU64(0);
    c.WriteU32(1);
    c.WriteU8(1);
    c.WriteU8(16);
    for (int i = 0; i < 16; ++i) c.WriteF32(0.25f * static_cast<float>(i - 8));
    seeds.push_back(c.bytes());
  }
  // frame_fuzz / handshake_fuzz: a Hello (X25519 key 9...9) then a sealed
  // Auth-sized frame; for frame_fuzz byte 0 is the read size.
  std::vector<uint8_t> frames = {'M', 'R', 'M', 'R', 1, 1, 0, 0, 32, 0, 0, 0};
  frames.resize(frames.size() + 32, 9);
  const std::vector<uint8_t> auth = {'M', 'R', 'M', 'R', 1, 2, 0, 0, 24, 0, 0, 0};
  frames.insert(frames.end(), auth.begin(), auth.end());
  frames.resize(frames.size() + 24, 1);
  seeds.push_back(frames);
  frames.insert(frames.begin(), 7);
  seeds.push_back(frames);
  return seeds;
}

// True once the time budget is spent (checked every 256 inputs).
bool OutOfTime(int64_t runs) {
  static const auto start = std::chrono::steady_clock::now();
  static const double budget_s = [] {
    const char* env = std::getenv("MURMUR_FUZZ_SECONDS");
    const double v = env != nullptr ? std::atof(env) : 0;
    return v > 0 ? v : 10.0;
  }();
  if (runs % 256 != 0) return false;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
         budget_s;
}

}  // namespace

int main() {
  murmur::Rng rng(2026, murmur::PeerId(0), murmur::RngPurpose::kTest);
  const auto seeds = Seeds();
  int64_t runs = 0;
  bool stopped = false;
  for (const auto& seed : seeds) {
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
    for (int i = 0; i < 20000 && !(stopped = stopped || OutOfTime(runs)); ++i) {
      std::vector<uint8_t> input = seed;
      const int mutations = 1 + static_cast<int>(rng.UniformInt(4));
      for (int k = 0; k < mutations; ++k) {
        switch (rng.UniformInt(4)) {
          case 0:  // truncate
            input.resize(rng.UniformInt(input.size() + 1));
            break;
          case 1:  // flip a bit
            if (!input.empty()) input[rng.UniformInt(input.size())] ^= 1u << rng.UniformInt(8);
            break;
          case 2:  // overwrite a byte with an extreme value
            if (!input.empty()) input[rng.UniformInt(input.size())] = rng.UniformInt(2) ? 0xff : 0;
            break;
          case 3:  // append noise
            for (uint64_t n = rng.UniformInt(16); n > 0; --n) input.push_back(rng.NextU32());
            break;
        }
      }
      LLVMFuzzerTestOneInput(input.data(), input.size());
      ++runs;
    }
  }
  for (int i = 0; i < 20000 && !(stopped = stopped || OutOfTime(runs)); ++i) {
    std::vector<uint8_t> noise(rng.UniformInt(128));
    for (auto& b : noise) b = static_cast<uint8_t>(rng.NextU32());
    LLVMFuzzerTestOneInput(noise.data(), noise.size());
    ++runs;
  }
  std::printf("%lld inputs, no crash%s\n", static_cast<long long>(runs),
              stopped ? " (stopped early: MURMUR_FUZZ_SECONDS spent)" : "");
  return 0;
}
