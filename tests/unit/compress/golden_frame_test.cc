// Pins the wire format and the bit-exact determinism of encoders: frames of
// fixed inputs hash to recorded values, whichever code path (AVX2 clone,
// F16C, portable) the machine runs. A change here is a wire-format change.
// zstd (output may change across library versions) and PowerSGD (draws
// Gaussians through libm) are left out.
#include <gtest/gtest.h>

#include <cmath>

#include "compress_test_util.h"

namespace murmur {
namespace {

uint64_t Fnv1a(std::span<const uint8_t> bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Inputs without libm: a fixed integer sequence mapped to floats with a wide
// range of magnitudes, including subnormals and exact ties.
std::vector<float> FixedInput(size_t n) {
  std::vector<float> x(n);
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const int32_t m = static_cast<int32_t>(s >> 40) - (1 << 23);
    const int e = static_cast<int>((s >> 20) % 24) - 12;
    x[i] = std::ldexp(static_cast<float>(m), e - 23);
  }
  x[5] = 1e-40f;
  x[6] = -x[7];
  return x;
}

TEST(GoldenFrame, EncodersProduceTheRecordedBytes) {
  const std::vector<float> x = FixedInput(10007);
  const CodecContext ctx{.seed = 42, .sender = PeerId(3), .step = 17};
  const std::vector<std::pair<const char*, uint64_t>> golden = {
      {"fp32", 0x463c47a1b60015b3ull},
      {"fp16", 0x6b54dd25193c3336ull},
      {"bf16", 0xe68996b3f20a7c4eull},
      {"int8", 0xfdc4738eafbd66d9ull},
      {"int4:block=100", 0x25e074da8b1cdef0ull},
      {"int2:block=0", 0xd60b36c57e3997c5ull},
      {"int8:round=nearest", 0xc8e7f7d69b952b5eull},
      {"sign", 0x3db002ca5b0f005bull},
      {"topk:0.01|int8", 0x146e421aa43482bbull},
      {"randk:0.05|fp16", 0xce099a1d1f4a1f44ull},
      {"fedzip:0.05,clusters=6", 0x0530cb1810589299ull},
  };
  for (const auto& [spec, hash] : golden) {
    const auto codec = compress_test::MustMake(spec);
    const std::vector<uint8_t> frame = compress_test::MustEncode(*codec, x, ctx);
    EXPECT_EQ(Fnv1a(frame), hash) << spec << ": 0x" << std::hex << Fnv1a(frame);
  }
}

}  // namespace
}  // namespace murmur
