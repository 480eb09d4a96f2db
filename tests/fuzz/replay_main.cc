// Without libFuzzer (the default g++ build), each fuzz target is linked with
// this driver and run as a test: it feeds the target a fixed, seeded stream
// of inputs built from valid seeds by random truncation, bit flips, byte
// overwrites and length-field corruption, plus pure noise. With clang and
// -DMURMUR_FUZZ=ON the same targets build as real libFuzzer binaries.
#include <cstdint>
#include <cstdio>
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

}  // namespace

int main() {
  murmur::Rng rng(2026, murmur::PeerId(0), murmur::RngPurpose::kTest);
  const auto seeds = Seeds();
  int64_t runs = 0;
  for (const auto& seed : seeds) {
    LLVMFuzzerTestOneInput(seed.data(), seed.size());
    for (int i = 0; i < 20000; ++i) {
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
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> noise(rng.UniformInt(128));
    for (auto& b : noise) b = static_cast<uint8_t>(rng.NextU32());
    LLVMFuzzerTestOneInput(noise.data(), noise.size());
    ++runs;
  }
  std::printf("%lld inputs, no crash\n", static_cast<long long>(runs));
  return 0;
}
