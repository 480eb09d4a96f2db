// Clipping, Gaussian noise, adaptive clipping and RQM on hand-computed inputs.
#include "murmur/privacy/mechanisms.h"
#include "murmur/privacy/rqm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace murmur::privacy {
namespace {

using Vec = std::vector<float>;

TEST(ClipL2, ScalesDownToTheBoundAndReportsTheNorm) {
  Vec v{3.f, 4.f};
  EXPECT_EQ(ClipL2(1.0, v), 5.0);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  Vec small{0.3f, 0.4f};
  EXPECT_NEAR(ClipL2(1.0, small), 0.5, 1e-7);
  EXPECT_EQ(small, (Vec{0.3f, 0.4f}));  // within the bound: untouched
}

TEST(ClipL2, NonFiniteUpdateIsZeroed) {
  Vec v{1.f, NAN, 2.f};
  EXPECT_TRUE(std::isnan(ClipL2(1.0, v)));
  EXPECT_EQ(v, (Vec{0.f, 0.f, 0.f}));
}

TEST(AddGaussianNoise, AddsStddevTimesTheStreamsNormals) {
  Rng rng(7, PeerId(3), RngPurpose::kTest);
  Rng replay = rng;
  Vec v{1.f, -2.f, 0.5f};
  const Vec before = v;
  AddGaussianNoise(0.25, rng, v);
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(v[i], static_cast<float>(before[i] + 0.25 * replay.Normal()));
  }
}

TEST(NextClipNorm, GeometricStepTowardTheQuantile) {
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  const AdaptiveClippingConfig config{.target_quantile = 0.5, .learning_rate = 0.2};
  // 7 of 10 under C: too many fit, C shrinks by exp(-0.2 * 0.2).
  EXPECT_DOUBLE_EQ(NextClipNorm(config, 2.0, 7, 10, rng), 2.0 * std::exp(-0.04));
  // 1 of 10: C grows by exp(0.2 * 0.4).
  EXPECT_DOUBLE_EQ(NextClipNorm(config, 2.0, 1, 10, rng), 2.0 * std::exp(0.08));
  EXPECT_DOUBLE_EQ(NextClipNorm(config, 2.0, 5, 10, rng), 2.0);
}

TEST(NextClipNorm, NoisyCountUsesOneNormalDraw) {
  Rng rng(4, PeerId(0), RngPurpose::kTest);
  Rng replay = rng;
  const AdaptiveClippingConfig config{.target_quantile = 0.3, .learning_rate = 0.5,
                                      .count_noise_stddev = 2.0};
  const double b = (6 + 2.0 * replay.Normal()) / 20;
  EXPECT_DOUBLE_EQ(NextClipNorm(config, 1.5, 6, 20, rng), 1.5 * std::exp(-0.5 * (b - 0.3)));
}

TEST(NextClipNorm, ConvergesToTheTargetQuantileOfFixedNorms) {
  // Norms 1..100: the 0.8 quantile is 80.
  Rng rng(9, PeerId(0), RngPurpose::kTest);
  const AdaptiveClippingConfig config{.target_quantile = 0.8, .learning_rate = 0.2};
  double clip = 0.1;
  for (int round = 0; round < 2000; ++round) {
    int at_most = 0;
    for (int n = 1; n <= 100; ++n) at_most += n <= clip ? 1 : 0;
    clip = NextClipNorm(config, clip, at_most, 100, rng);
  }
  EXPECT_NEAR(clip, 80.0, 1.5);
}

// Local mode (Andrew et al. 2021 under distributed noise): clients report
// centred bits b - 1/2, the server steps from their sum. Norms 1..10 with
// target quantile 0.5 and no noise: b = 0.5 exactly when 5 <= C < 6, where
// the step is exp(0) = 1, so C must enter [5, 6) and stay there.
TEST(NextClipNormFromBits, ConvergesIntoTheTargetQuantileIntervalAndStays) {
  Rng rng(3, PeerId(0), RngPurpose::kTest);
  const AdaptiveClippingConfig config{.target_quantile = 0.5, .learning_rate = 0.2};
  auto round = [&](double clip) {
    double sum = 0;
    for (int norm = 1; norm <= 10; ++norm) sum += NoisyClipBit(norm, clip, 0, rng);
    return NextClipNormFromBits(config, clip, sum, 10);
  };
  // By hand: from C = 0.5 every bit is -1/2, b = 0, C grows by exp(0.1).
  EXPECT_DOUBLE_EQ(round(0.5), 0.5 * std::exp(0.1));
  // From C = 8: 8 of 10 within, b = 0.8, C shrinks by exp(-0.06).
  EXPECT_DOUBLE_EQ(round(8.0), 8.0 * std::exp(-0.2 * 0.3));
  double clip = 0.5;
  int rounds = 0;
  while (!(clip >= 5 && clip < 6) && rounds < 1000) clip = round(clip), ++rounds;
  ASSERT_LT(rounds, 1000);
  const double settled = clip;
  for (int i = 0; i < 50; ++i) clip = round(clip);
  EXPECT_EQ(clip, settled);
  EXPECT_TRUE(clip >= 5 && clip < 6) << clip;
}

// With the count noise split over the m = 10 clients (sigma_b / sqrt(10)
// each, sigma_b = 0.5), C keeps to the median's neighbourhood: over rounds
// 500..1499 of 3 seeds, its geometric mean lies in [4, 7] (b is off by
// N(0, 0.05^2) a round, so C wanders a few steps around [5, 6)).
TEST(NextClipNormFromBits, NoisyBitsStayNearTheTargetQuantile) {
  const AdaptiveClippingConfig config{.target_quantile = 0.5, .learning_rate = 0.2};
  for (uint64_t seed : {1, 2, 3}) {
    Rng rng(seed, PeerId(0), RngPurpose::kTest);
    double clip = 0.5, log_sum = 0;
    for (int r = 0; r < 1500; ++r) {
      double sum = 0;
      for (int norm = 1; norm <= 10; ++norm) {
        sum += NoisyClipBit(norm, clip, 0.5 / std::sqrt(10.0), rng);
      }
      clip = NextClipNormFromBits(config, clip, sum, 10);
      if (r >= 500) log_sum += std::log(clip);
    }
    const double geo_mean = std::exp(log_sum / 1000);
    EXPECT_GT(geo_mean, 4.0) << seed;
    EXPECT_LT(geo_mean, 7.0) << seed;
  }
}

TEST(NextClipNormFromBits, NoSumOfBitsDrivesTheClipToZeroOrInfinity) {
  const AdaptiveClippingConfig config{.target_quantile = 0.5, .learning_rate = 1000};
  EXPECT_EQ(NextClipNormFromBits(config, 1.0, 1e6, 1), 1e-12);
  EXPECT_EQ(NextClipNormFromBits(config, 1.0, -1e6, 1), 1e12);
}

TEST(AdaptiveClippingNoiseMultiplier, PapersFormula) {
  // z = 1, sigma_b = 1: z_delta = (1 - 1/4)^(-1/2).
  EXPECT_DOUBLE_EQ(AdaptiveClippingNoiseMultiplier(1.0, 1.0).value(), 1 / std::sqrt(0.75));
  EXPECT_FALSE(AdaptiveClippingNoiseMultiplier(1.0, 0.5).ok());
  EXPECT_FALSE(Validate(AdaptiveClippingConfig{.target_quantile = 1.0}).ok());
}

TEST(Rqm, KeepingEveryLevelIsUnbiasedStochasticRounding) {
  // levels 5 over [-2, 2]: -2, -1, 0, 1, 2. x = 0.25 rounds to 0 or 1.
  const RqmConfig config{.clip = 1.0, .delta = 2.0, .levels = 5, .keep_probability = 1.0};
  Rng rng(3, PeerId(0), RngPurpose::kTest);
  double sum = 0;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    const Vec x{0.25f};
    Vec out(1);
    ASSERT_TRUE(RqmDecode(config, RqmEncode(config, x, rng), out).ok());
    ASSERT_TRUE(out[0] == 0.f || out[0] == 1.f) << out[0];
    sum += out[0];
  }
  // Bernoulli(0.25): stddev of the mean 0.433 / sqrt(20000) = 0.0031.
  EXPECT_NEAR(sum / kDraws, 0.25, 5 * 0.0031);
}

TEST(Rqm, SparseLevelsStayUnbiasedAndReachTheExtremes) {
  const RqmConfig config{.clip = 1.0, .delta = 1.5, .levels = 16, .keep_probability = 0.3};
  Rng rng(5, PeerId(0), RngPurpose::kTest);
  const Vec x{-1.f, -0.3f, 0.f, 0.7f, 5.f /* clamped to 1 */};
  std::vector<double> sum(x.size(), 0);
  bool saw_extreme = false;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    Vec out(x.size());
    ASSERT_TRUE(RqmDecode(config, RqmEncode(config, x, rng), out).ok());
    for (size_t k = 0; k < x.size(); ++k) {
      sum[k] += out[k];
      saw_extreme = saw_extreme || std::abs(out[k]) == 1.5f;
    }
  }
  const Vec expected{-1.f, -0.3f, 0.f, 0.7f, 1.f};
  // Each output lies within 3 of x, so the mean's stddev is < 3/sqrt(n).
  for (size_t k = 0; k < x.size(); ++k) {
    EXPECT_NEAR(sum[k] / kDraws, expected[k], 4 * 3 / std::sqrt(double(kDraws))) << k;
  }
  EXPECT_TRUE(saw_extreme);
}

TEST(Rqm, FrameIsCountLevelsAndPackedIndices) {
  // levels 16: 4 bits per index; 3 values -> 2 payload bytes.
  const RqmConfig config{.clip = 1.0, .delta = 2.0, .levels = 16, .keep_probability = 1.0};
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  const Vec x{-2.f / 15 * 7.5f, 0.f, 1.f};
  const std::vector<uint8_t> frame = RqmEncode(config, x, rng);
  EXPECT_EQ(frame.size(), 8u + 2u);
  Vec out(3);
  ASSERT_TRUE(RqmDecode(config, frame, out).ok());
  for (float v : out) {
    const double j = (v + 2.0) / (4.0 / 15);
    EXPECT_NEAR(j, std::round(j), 1e-4);  // every output is a level
  }
}

TEST(Rqm, DecoderRejectsLyingFramesAndLeavesOutputUntouched) {
  const RqmConfig config{.clip = 1.0, .delta = 2.0, .levels = 5, .keep_probability = 1.0};
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  std::vector<uint8_t> frame = RqmEncode(config, Vec{0.f, 0.5f}, rng);
  Vec out{9.f, 9.f};
  Vec wrong_size(3);
  EXPECT_EQ(RqmDecode(config, frame, wrong_size).code(), StatusCode::kCorrupt);
  std::vector<uint8_t> truncated(frame.begin(), frame.end() - 1);
  EXPECT_EQ(RqmDecode(config, truncated, out).code(), StatusCode::kCorrupt);
  std::vector<uint8_t> long_frame = frame;
  long_frame.push_back(0);
  EXPECT_EQ(RqmDecode(config, long_frame, out).code(), StatusCode::kCorrupt);
  std::vector<uint8_t> bad_index = frame;
  bad_index[8] = 0x77;  // indices 7 and 7 with 3 bits each: >= 5 levels
  EXPECT_EQ(RqmDecode(config, bad_index, out).code(), StatusCode::kCorrupt);
  EXPECT_EQ(out, (Vec{9.f, 9.f}));
  EXPECT_FALSE(Validate(RqmConfig{.clip = 1.0, .delta = 1.0}).ok());
}

}  // namespace
}  // namespace murmur::privacy
