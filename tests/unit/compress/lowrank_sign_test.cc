#include <gtest/gtest.h>

#include <cmath>

#include "compress_test_util.h"
#include "murmur/compress/powersgd.h"
#include "murmur/compress/sign.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::MustEncode;
using compress_test::RoundTrip;

TEST(ScaledSignCodec, DecodesToMeanMagnitudeTimesSign) {
  ScaledSignCodec codec;
  const std::vector<float> x = {1.0f, -3.0f, 0.0f, -0.0f, 2.0f};
  const std::vector<float> y = RoundTrip(codec, x);
  const float m = 6.0f / 5;
  EXPECT_EQ(y, (std::vector<float>{m, -m, m, -m, m}));
  // header 2 + scale 4 + one byte of 5 sign bits.
  EXPECT_EQ(MustEncode(codec, x).size(), 7u);
}

TEST(ScaledSignCodec, OneBitPerCoordinate) {
  ScaledSignCodec codec;
  const std::vector<float> x = Gaussian(80000, 2);
  EXPECT_EQ(MustEncode(codec, x).size(), 1 + 3 + 4 + 10000u);
}

TEST(ScaledSignCodec, RejectsNegativeScaleAndPadding) {
  ScaledSignCodec codec;
  const std::vector<float> x = {1.0f, -1.0f, 2.0f};
  std::vector<uint8_t> frame = MustEncode(codec, x);
  std::vector<float> out(3);
  std::vector<uint8_t> f = frame;
  f[5] |= 0x80;  // sign bit of the scale
  EXPECT_EQ(codec.Decode(f, {}, out).code(), StatusCode::kCorrupt);
  f = frame;
  f[6] |= 0x08;  // bit 3 of a 3-coordinate bitmap
  EXPECT_EQ(codec.Decode(f, {}, out).code(), StatusCode::kCorrupt);
}

// A matrix of rank <= r is in the span of P = orthonormalize(M Q) for a
// Gaussian Q (almost surely), so one power iteration reconstructs it.
TEST(PowerSgdCodec, ReconstructsALowRankMatrixExactly) {
  const size_t rows = 40, cols = 50;
  const std::vector<float> u = Gaussian(rows * 2, 1);
  const std::vector<float> v = Gaussian(cols * 2, 2);
  std::vector<float> m(rows * cols);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) {
      m[i * cols + j] = u[2 * i] * v[2 * j] + u[2 * i + 1] * v[2 * j + 1];
    }
  }
  PowerSgdCodec codec({.rank = 2, .rows = rows}, nullptr);
  const std::vector<float> y = RoundTrip(codec, m, {.seed = 5});
  for (size_t i = 0; i < m.size(); ++i) ASSERT_NEAR(y[i], m[i], 1e-4) << i;
  // 2 * (40 + 50) floats instead of 2000.
  EXPECT_EQ(MustEncode(codec, m).size(), 3 + 1 + 1 + (1 + 2 + 4 * 180u));
}

TEST(PowerSgdCodec, ProjectionNeverIncreasesTheNorm) {
  // P P^T M is an orthogonal projection of M: ||decode|| <= ||x||, and the
  // residual is orthogonal to it (up to float error). d = rows * cols, so
  // no padding entries are dropped from the projection.
  PowerSgdCodec codec({.rank = 4}, nullptr);
  const std::vector<float> x = Gaussian(10100, 3);
  const std::vector<float> y = RoundTrip(codec, x, {.seed = 9});
  double xx = 0, yy = 0, ry = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    xx += double(x[i]) * x[i];
    yy += double(y[i]) * y[i];
    ry += (double(x[i]) - y[i]) * y[i];
  }
  EXPECT_LT(yy, xx);
  EXPECT_GT(yy, 0.0);
  EXPECT_NEAR(ry / xx, 0.0, 1e-5);
  EXPECT_EQ(codec.ShapeFor(10100).rows * codec.ShapeFor(10100).cols, 10100u);
  const PowerSgdCodec::Shape s = codec.ShapeFor(10007);
  EXPECT_EQ(s.rows, 101u);
  EXPECT_EQ(s.cols, 100u);
  EXPECT_EQ(s.rank, 4u);
}

TEST(PowerSgdCodec, RejectsAShapeOtherThanItsOwn) {
  PowerSgdCodec sender({.rank = 2}, nullptr);
  PowerSgdCodec receiver({.rank = 3}, nullptr);
  const std::vector<float> x = Gaussian(400, 4);
  std::vector<float> y(400);
  EXPECT_EQ(receiver.Decode(MustEncode(sender, x), {}, y).code(), StatusCode::kCorrupt);
}

TEST(PowerSgdCodec, HandlesZeroAndTinyVectors) {
  PowerSgdCodec codec({.rank = 4}, nullptr);
  EXPECT_EQ(RoundTrip(codec, std::vector<float>(100, 0.0f)), std::vector<float>(100, 0.0f));
  const std::vector<float> one = {3.0f};
  EXPECT_NEAR(RoundTrip(codec, one)[0], 3.0f, 1e-6);
  EXPECT_TRUE(RoundTrip(codec, std::vector<float>{}).empty());
}

}  // namespace
}  // namespace murmur
