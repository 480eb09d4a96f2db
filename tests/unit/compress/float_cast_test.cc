#include "murmur/compress/float_cast.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "compress_test_util.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::RoundTrip;

TEST(FloatToHalf, MatchesHandComputedValues) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(0x1.0p-14f), 0x0400);  // smallest normal
  EXPECT_EQ(FloatToHalf(0x1.0p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(0x1.0p-26f), 0x0000);  // below half the smallest: 0
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to even (1).
  EXPECT_EQ(FloatToHalf(1.0f + 0x1.0p-11f), 0x3c00);
  // 1 + 3 * 2^-11 lies halfway between 1 + 2^-10 and 1 + 2^-9: even is 0x3c02.
  EXPECT_EQ(FloatToHalf(1.0f + 3 * 0x1.0p-11f), 0x3c02);
}

TEST(FloatToHalf, SaturatesBeyondLargestHalf) {
  EXPECT_EQ(FloatToHalf(1e6f), 0x7bff);
  EXPECT_EQ(FloatToHalf(-1e30f), 0xfbff);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::max()), 0x7bff);
}

// Every finite half converts to float exactly and back to itself, and every
// midpoint between neighbouring halves rounds to the even one.
TEST(FloatToHalf, RoundTripsEveryHalfAndTiesToEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // inf / NaN
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    ASSERT_EQ(FloatToHalf(f), h) << std::hex << h;
    const uint32_t next = h + 1;
    if ((h & 0x7fff) == 0x7bff || (next & 0x7c00) == 0x7c00) continue;
    const double mid = 0.5 * (static_cast<double>(f) + HalfToFloat(static_cast<uint16_t>(next)));
    const float midf = static_cast<float>(mid);
    ASSERT_EQ(static_cast<double>(midf), mid);  // midpoints are exact floats
    const uint32_t even = (h % 2 == 0) ? h : next;
    ASSERT_EQ(FloatToHalf(midf), even) << std::hex << h;
  }
}

// The codec's bulk conversion (F16C where the CPU has it) is the same
// function as the scalar reference, on every half, every midpoint between
// halves, values beyond the range and random floats.
TEST(Fp16Codec, BulkPathMatchesScalarConversionBothWays) {
  std::vector<float> x;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    const float f = HalfToFloat(static_cast<uint16_t>(h));
    x.push_back(f);
    if ((h & 0x7fff) != 0x7bff) {
      x.push_back(static_cast<float>(0.5 * (double(f) + HalfToFloat(static_cast<uint16_t>(h + 1)))));
    }
    x.push_back(std::nextafter(f, 0.0f));
  }
  for (float v : {65504.0f, 65519.0f, 65520.0f, 1e9f, -1e9f, 1e-30f, -1e-30f}) x.push_back(v);
  for (float v : Gaussian(10000, 31, 1e3)) x.push_back(v);
  Fp16Codec codec;
  const std::vector<uint8_t> frame = compress_test::MustEncode(codec, x);
  const size_t header = frame.size() - 2 * x.size();
  for (size_t i = 0; i < x.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, frame.data() + header + 2 * i, 2);
    ASSERT_EQ(h, FloatToHalf(x[i])) << x[i];
  }
  const std::vector<float> y = compress_test::MustDecode(codec, frame, x.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], HalfToFloat(FloatToHalf(x[i]))) << x[i];
}

TEST(Fp16Codec, RelativeErrorWithinHalfUlpInNormalRange) {
  Fp16Codec codec;
  const std::vector<float> x = Gaussian(100000, 11, 100.0);
  const std::vector<float> y = RoundTrip(codec, x);
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::abs(x[i]) < 0x1.0p-14f) {
      EXPECT_LE(std::abs(y[i] - x[i]), 0x1.0p-25f);
    } else {
      ASSERT_LE(std::abs(y[i] - x[i]), std::abs(x[i]) * 0x1.0p-11f) << x[i];
    }
  }
}

TEST(Fp16Codec, FrameIsHeaderPlusTwoBytesPerValue) {
  Fp16Codec codec;
  const std::vector<float> x = Gaussian(1000, 1);
  EXPECT_EQ(compress_test::MustEncode(codec, x).size(), 1 + 2 + 2000u);
  EXPECT_EQ(codec.MaxEncodedSize(1000), 1 + 2 + 2000u);
}

TEST(Fp16Codec, RejectsInfinityAndNaNEncodings) {
  Fp16Codec codec;
  const std::vector<float> x = {1.0f, 2.0f};
  std::vector<uint8_t> frame = compress_test::MustEncode(codec, x);
  ASSERT_EQ(frame.size(), 6u);
  for (uint16_t bad : {uint16_t{0x7c00}, uint16_t{0xfc00}, uint16_t{0x7e00}}) {
    std::vector<uint8_t> f = frame;
    f[4] = static_cast<uint8_t>(bad);
    f[5] = static_cast<uint8_t>(bad >> 8);
    std::vector<float> out(2);
    EXPECT_EQ(codec.Decode(f, {}, out).code(), StatusCode::kCorrupt);
  }
}

TEST(Bf16Codec, RoundsToNearestEvenWithRelativeErrorTwoToMinusEight) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
  EXPECT_EQ(FloatToBf16(1.0f + 0x1.0p-8f), 0x3f80);
  EXPECT_EQ(FloatToBf16(1.0f + 3 * 0x1.0p-8f), 0x3f82);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::max()), 0x7f7f);
  EXPECT_EQ(FloatToBf16(-std::numeric_limits<float>::max()), 0xff7f);
  Bf16Codec codec;
  const std::vector<float> x = Gaussian(100000, 12, 1e-3);
  const std::vector<float> y = RoundTrip(codec, x);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LE(std::abs(y[i] - x[i]), std::abs(x[i]) * 0x1.0p-8f) << x[i];
  }
}

TEST(Bf16Codec, RejectsInfinityEncodings) {
  Bf16Codec codec;
  std::vector<uint8_t> frame = compress_test::MustEncode(codec, std::vector<float>{1.0f});
  frame[2] = 0x80;
  frame[3] = 0x7f;  // +inf
  std::vector<float> out(1);
  EXPECT_EQ(codec.Decode(frame, {}, out).code(), StatusCode::kCorrupt);
}

TEST(Fp32Codec, IsLosslessAndRejectsNonFiniteBothWays) {
  Fp32Codec codec;
  const std::vector<float> x = Gaussian(1000, 3);
  EXPECT_EQ(RoundTrip(codec, x), x);
  std::vector<float> bad = x;
  bad[17] = std::numeric_limits<float>::quiet_NaN();
  ByteWriter out;
  const Status s = codec.Encode(bad, {}, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("index 17"), std::string::npos) << s.message();
  EXPECT_EQ(out.size(), 0u);  // nothing written on failure

  std::vector<uint8_t> frame = compress_test::MustEncode(codec, x);
  const float inf = std::numeric_limits<float>::infinity();
  std::memcpy(frame.data() + 3 + 4 * 5, &inf, 4);
  std::vector<float> y(x.size());
  EXPECT_EQ(codec.Decode(frame, {}, y).code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur
