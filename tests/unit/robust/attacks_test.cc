// The attack vectors of robust/attacks.h on hand-computed inputs.
#include "murmur/robust/attacks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace murmur {
namespace {

using Vec = std::vector<float>;

std::vector<std::span<const float>> Views(const std::vector<Vec>& vs) {
  return std::vector<std::span<const float>>(vs.begin(), vs.end());
}

TEST(SignFlip, ReversesAndScalesTheOwnUpdate) {
  Vec out(3);
  SignFlip(Vec{1.f, -2.f, 0.5f}, 4.0, out);
  EXPECT_EQ(out, (Vec{-4.f, 8.f, -2.f}));
}

TEST(GaussianNoise, DrawsSigmaTimesTheStreamsNormals) {
  Rng rng(7, PeerId(3), RngPurpose::kTest);
  Rng replay = rng;
  Vec out(4);
  GaussianNoise(2.5, rng, out);
  for (float v : out) EXPECT_EQ(v, static_cast<float>(2.5 * replay.Normal()));
}

TEST(AlieZ, MatchesThePapersFormula) {
  // n = 20, f = 4: s = 11 - 4 = 7, z = Phi^-1(13 / 20) = 0.38532.
  EXPECT_NEAR(AlieZ(20, 4), 0.385320, 1e-5);
  // n = 50, f = 24: s = 2, z = Phi^-1(48 / 50) = 1.750686.
  EXPECT_NEAR(AlieZ(50, 24), 1.750686, 1e-5);
  // n = 10, f = 0: s = 6, z = Phi^-1(0.4) = -0.253347 (a small push toward mu).
  EXPECT_NEAR(AlieZ(10, 0), -0.253347, 1e-5);
  EXPECT_EQ(AlieZ(4, 3), 0.0);  // s <= 0: no quantile
}

TEST(ALittleIsEnough, IsMeanMinusZTimesUnbiasedStd) {
  // Coordinate 0: {1, 3} -> mu 2, sigma sqrt(2); coordinate 1: {2, 6} ->
  // mu 4, sigma sqrt(8).
  const std::vector<Vec> honest{{1.f, 2.f}, {3.f, 6.f}};
  Vec out(2);
  ASSERT_TRUE(ALittleIsEnough(Views(honest), 1.5, out).ok());
  EXPECT_FLOAT_EQ(out[0], static_cast<float>(2 - 1.5 * std::sqrt(2.0)));
  EXPECT_FLOAT_EQ(out[1], static_cast<float>(4 - 1.5 * std::sqrt(8.0)));
  const std::vector<Vec> one{{5.f, -1.f}};
  ASSERT_TRUE(ALittleIsEnough(Views(one), 3.0, out).ok());
  EXPECT_EQ(out, (Vec{5.f, -1.f}));  // one input: sigma is 0
}

TEST(InnerProductManipulation, IsMinusEpsilonTimesTheMean) {
  const std::vector<Vec> honest{{1.f, 2.f}, {3.f, 6.f}};
  Vec out(2);
  ASSERT_TRUE(InnerProductManipulation(Views(honest), 0.5, out).ok());
  EXPECT_EQ(out, (Vec{-1.f, -2.f}));
}

TEST(Attacks, RejectEmptyOrMismatchedInputs) {
  Vec out(2);
  EXPECT_EQ(ALittleIsEnough({}, 1.0, out).code(), StatusCode::kInvalidArgument);
  const std::vector<Vec> wrong{{1.f, 2.f, 3.f}};
  EXPECT_EQ(InnerProductManipulation(Views(wrong), 0.1, out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MeanOf(Views(wrong), out).code(), StatusCode::kInvalidArgument);
}

TEST(Dissensus, PushesTheReceiverAwayFromTheHonestMean) {
  Vec out(2);
  Dissensus(Vec{3.f, 0.f}, Vec{5.f, 1.f}, 2.0, out);
  // 3 + 2 * (3 - 5) = -1; 0 + 2 * (0 - 1) = -2.
  EXPECT_EQ(out, (Vec{-1.f, -2.f}));
}

}  // namespace
}  // namespace murmur
