#include "murmur/compress/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "compress/philox.h"
#include "compress_test_util.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::MustDecode;
using compress_test::MustEncode;

float BlockMax(std::span<const float> x, size_t begin, size_t block) {
  float m = 0;
  for (size_t i = begin; i < std::min(x.size(), begin + block); ++i) m = std::max(m, std::abs(x[i]));
  return m;
}

TEST(PhiloxWords, MatchesTheCoreRngStreamWordForWord) {
  const uint64_t seed = 0x123456789abcdefull;
  std::vector<uint32_t> words(4 * 37);
  compress_internal::PhiloxWords(seed, 7, RngPurpose::kTest,
                                 compress_internal::StepCounter(5), 37, words.data());
  Rng rng = Rng::ForStep(seed, PeerId(7), RngPurpose::kTest, 5);
  for (size_t i = 0; i < words.size(); ++i) ASSERT_EQ(words[i], rng.NextU32()) << i;
  // Across a carry into the counter's high word, against the portable path.
  const uint64_t near_carry = 0xfffffffcull;
  std::vector<uint32_t> fast(4 * 21), slow(4 * 21);
  compress_internal::PhiloxWords(seed, 7, RngPurpose::kTest, near_carry, 21, fast.data());
  compress_internal::PhiloxWordsPortable(seed, 7, RngPurpose::kTest, near_carry, 21, slow.data());
  EXPECT_EQ(fast, slow);
}

class QsgdBits : public ::testing::TestWithParam<int> {};

TEST_P(QsgdBits, StochasticErrorBelowOneLevelPerBucket) {
  const int bits = GetParam();
  const float s = static_cast<float>((1 << (bits - 1)) - 1);
  QsgdCodec codec({.bits = bits, .block = 100});
  const std::vector<float> x = Gaussian(10007, 21);
  const std::vector<float> y = compress_test::RoundTrip(codec, x, {.seed = 4});
  for (size_t i = 0; i < x.size(); ++i) {
    const float scale = BlockMax(x, i / 100 * 100, 100);
    ASSERT_LE(std::abs(y[i] - x[i]), scale / s * (1 + 1e-6f)) << "i=" << i;
  }
}

TEST_P(QsgdBits, NearestErrorBelowHalfALevel) {
  const int bits = GetParam();
  const float s = static_cast<float>((1 << (bits - 1)) - 1);
  QsgdCodec codec({.bits = bits, .block = 0, .rounding = Rounding::kNearest});
  const std::vector<float> x = Gaussian(5000, 22);
  const float scale = BlockMax(x, 0, x.size());
  const std::vector<float> y = compress_test::RoundTrip(codec, x);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LE(std::abs(y[i] - x[i]), scale / (2 * s) * (1 + 1e-6f)) << "i=" << i;
  }
}

// E[decode(encode(x))] = x: average over many seeds. Each coordinate's
// decode is x_i plus a zero-mean error bounded by one level L = m / s, so its
// variance is <= L^2 / 4; the mean of n seeds has standard deviation <=
// L / (2 sqrt(n)). Tolerance: 5 such deviations for every coordinate.
TEST_P(QsgdBits, StochasticRoundingIsUnbiasedOverSeeds) {
  const int bits = GetParam();
  const float s = static_cast<float>((1 << (bits - 1)) - 1);
  QsgdCodec codec({.bits = bits, .block = 64});
  const std::vector<float> x = Gaussian(256, 23);
  const int n = 4000;
  std::vector<double> sum(x.size(), 0.0);
  for (int seed = 0; seed < n; ++seed) {
    const std::vector<float> y = compress_test::RoundTrip(codec, x, {.seed = uint64_t(seed)});
    for (size_t i = 0; i < x.size(); ++i) sum[i] += y[i];
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const double level = BlockMax(x, i / 64 * 64, 64) / s;
    const double tolerance = 5 * level / (2 * std::sqrt(static_cast<double>(n)));
    EXPECT_NEAR(sum[i] / n, x[i], tolerance) << "i=" << i << " bits=" << bits;
  }
}

INSTANTIATE_TEST_SUITE_P(Bits, QsgdBits, ::testing::Values(2, 4, 8));

TEST(QsgdCodec, Int8ErrorWithinScaleOver127AndExactAtExtremes) {
  QsgdCodec codec({.bits = 8, .block = 4});
  const std::vector<float> x = {1.0f, -1.0f, 0.0f, 0.5f, 3.0f, 0.0f, 0.0f, 0.0f};
  const std::vector<float> y = compress_test::RoundTrip(codec, x, {.seed = 9});
  EXPECT_EQ(y[0], 1.0f);  // +-scale is a level: exact
  EXPECT_EQ(y[1], -1.0f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_LE(std::abs(y[3] - 0.5f), 1.0f / 127);
  EXPECT_EQ(y[4], 3.0f);
  EXPECT_EQ(y[5], 0.0f);  // an all-zero remainder of a bucket stays zero
}

TEST(QsgdCodec, FrameSizeIsScalesPlusPackedCodes) {
  const std::vector<float> x = Gaussian(1001, 5);
  // header: id + varint(1001) = 3 bytes; bits byte; varint block.
  QsgdCodec int8({.bits = 8, .block = 512});
  EXPECT_EQ(MustEncode(int8, x).size(), 3 + 1 + 2 + 4 * 2 + 1001u);
  QsgdCodec int4({.bits = 4, .block = 512});
  EXPECT_EQ(MustEncode(int4, x).size(), 3 + 1 + 2 + 4 * 2 + 501u);
  QsgdCodec int2({.bits = 2, .block = 0});
  EXPECT_EQ(MustEncode(int2, x).size(), 3 + 1 + 1 + 4 + 251u);
  for (const QsgdCodec* c : {&int8, &int4, &int2}) {
    EXPECT_EQ(MustEncode(*c, x).size(), c->MaxEncodedSize(x.size()));
  }
}

TEST(QsgdCodec, SameContextGivesSameFrameDifferentStepDiffers) {
  QsgdCodec codec({.bits = 4});
  const std::vector<float> x = Gaussian(3000, 6);
  const CodecContext a{.seed = 1, .sender = PeerId(2), .step = 3};
  const CodecContext b{.seed = 1, .sender = PeerId(2), .step = 4};
  EXPECT_EQ(MustEncode(codec, x, a), MustEncode(codec, x, a));
  EXPECT_NE(MustEncode(codec, x, a), MustEncode(codec, x, b));
}

TEST(QsgdCodec, HandlesTinyScalesWithoutOverflow) {
  QsgdCodec codec({.bits = 8, .block = 0});
  const std::vector<float> x = {1e-45f, -1e-45f, 0.0f};  // subnormal: s / scale overflows
  const std::vector<float> y = compress_test::RoundTrip(codec, x);
  EXPECT_EQ(y[0], x[0]);
  EXPECT_EQ(y[1], x[1]);
}

TEST(QsgdCodec, RejectsCorruptScalesCodesAndConfigMismatch) {
  QsgdCodec codec({.bits = 8, .block = 0});
  const std::vector<float> x = {0.5f, -0.25f, 1.0f};
  const std::vector<uint8_t> frame = MustEncode(codec, x);
  // Layout: id, dim(1), bits, block(1), scale(4), codes(3).
  ASSERT_EQ(frame.size(), 2 + 1 + 1 + 4 + 3u);
  std::vector<float> out(3);
  for (float bad : {-1.0f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    std::vector<uint8_t> f = frame;
    std::memcpy(f.data() + 4, &bad, 4);
    EXPECT_EQ(codec.Decode(f, {}, out).code(), StatusCode::kCorrupt) << bad;
  }
  std::vector<uint8_t> f = frame;
  f[8] = 0xff;  // code 255 = 2s + 1 is unused
  EXPECT_EQ(codec.Decode(f, {}, out).code(), StatusCode::kCorrupt);
  QsgdCodec int4({.bits = 4, .block = 0});
  EXPECT_EQ(int4.Decode(frame, {}, out).code(), StatusCode::kCorrupt);
  QsgdCodec blocked({.bits = 8, .block = 2});
  EXPECT_EQ(blocked.Decode(frame, {}, out).code(), StatusCode::kCorrupt);
}

TEST(QsgdCodec, RejectsNonZeroPaddingBits) {
  QsgdCodec codec({.bits = 2, .block = 0});
  const std::vector<float> x = {0.5f, -0.25f, 1.0f};  // 6 bits used of 8
  std::vector<uint8_t> frame = MustEncode(codec, x);
  std::vector<float> out(3);
  ASSERT_TRUE(codec.Decode(frame, {}, out).ok());
  frame.back() |= 0x40;
  EXPECT_EQ(codec.Decode(frame, {}, out).code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur
