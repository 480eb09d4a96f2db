// The run-level DP step (ClipChangeAndNoise), privacy.mode names and the
// epsilon a run reports, on hand-computed inputs.
#include "murmur/privacy/client_dp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "murmur/privacy/accountant.h"

namespace murmur::privacy {
namespace {

using Vec = std::vector<float>;

double ChangeNorm(const Vec& reference, const Vec& model) {
  double sq = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    const double d = static_cast<double>(model[i]) - reference[i];
    sq += d * d;
  }
  return std::sqrt(sq);
}

TEST(ClipChangeAndNoise, ClippedChangeHasTheBoundsNorm) {
  const Vec reference{1.f, 1.f, -2.f};
  Vec model{4.f, 5.f, -2.f};  // change (3, 4, 0), norm 5
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  EXPECT_EQ(ClipChangeAndNoise(reference, model, 1.0, 0, rng), 5.0);
  EXPECT_FLOAT_EQ(model[0], 1.6f);  // 1 + 3/5
  EXPECT_FLOAT_EQ(model[1], 1.8f);  // 1 + 4/5
  EXPECT_EQ(model[2], -2.f);
  EXPECT_NEAR(ChangeNorm(reference, model), 1.0, 1e-6);
}

TEST(ClipChangeAndNoise, WithinTheBoundAndNoNoiseLeavesModelAndRngAlone) {
  const Vec reference{0.1f, 0.2f, 0.3f};
  Vec model{0.7f, -0.4f, 0.9f};
  const Vec before = model;
  Rng rng(5, PeerId(2), RngPurpose::kTest);
  Rng untouched = rng;
  ClipChangeAndNoise(reference, model, 1e6, 0, rng);
  EXPECT_EQ(model, before);  // bit for bit: no reference + (model - reference)
  EXPECT_EQ(rng.Normal(), untouched.Normal());
}

TEST(ClipChangeAndNoise, NoiseIsStddevTimesTheNodesNormals) {
  const Vec reference{0.f, 0.f};
  Vec model{3.f, 4.f};
  Rng rng(9, PeerId(1), RngPurpose::kTest);
  Rng replay = rng;
  ClipChangeAndNoise(reference, model, 1.0, 0.5, rng);
  EXPECT_EQ(model[0], static_cast<float>(0.6f + 0.5 * replay.Normal()));
  EXPECT_EQ(model[1], static_cast<float>(0.8f + 0.5 * replay.Normal()));
}

TEST(ClipChangeAndNoise, NonFiniteChangeFallsBackToTheReference) {
  const Vec reference{1.f, 2.f};
  Vec model{NAN, 3.f};
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  EXPECT_TRUE(std::isnan(ClipChangeAndNoise(reference, model, 1.0, 0, rng)));
  EXPECT_EQ(model, reference);
}

TEST(DpMode, NamesRoundTripAndUnknownIsRejected) {
  for (DpMode mode : {DpMode::kNone, DpMode::kCentral, DpMode::kLocal}) {
    EXPECT_EQ(ParseDpMode(DpModeName(mode)).value(), mode);
  }
  const Status bad = ParseDpMode("global").status();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("privacy.mode"), std::string::npos);
}

TEST(RunEpsilon, EqualsTheAccountantAndIsUnboundedWithoutNoise) {
  const DpConfig config{.mode = DpMode::kCentral, .clip = 1, .noise_multiplier = 1.1,
                        .delta = 1e-5};
  PrivacyAccountant accountant;
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(0.0042667, 1.1, 14062).ok());
  const double expected = accountant.Epsilon(1e-5).value().epsilon;
  EXPECT_EQ(RunEpsilon(config, 0.0042667, 14062).value(), expected);
  EXPECT_NEAR(expected, 2.597, 5e-4);  // docs/privacy.md's `murmur privacy epsilon` line
  EXPECT_EQ(RunEpsilon(config, 0.5, 0).value(), 0.0);
  // q = 1: one Gaussian mechanism per step, RDP T alpha / (2 sigma^2).
  EXPECT_LT(RunEpsilon(config, 0.25, 10).value(), RunEpsilon(config, 1.0, 10).value());
  DpConfig noiseless = config;
  noiseless.noise_multiplier = 0;
  EXPECT_FALSE(RunEpsilon(noiseless, 0.5, 3).has_value());
}

// Adaptive clipping spends budget on the clip bits; the run reports the
// epsilon of noise multiplier z because the updates are noised at z_delta
// (AdaptiveClippingNoiseMultiplier). Check with the accountant that the two
// releases of a round -- the update sum at z_delta (sensitivity C) and the
// bit sum at sigma_b (sensitivity 1/2, i.e. multiplier 2 sigma_b) --
// compose to exactly the RDP of one Gaussian at z (q = 1, where the RDP of
// Gaussians adds: alpha / (2 z^2) = alpha / (2 z_delta^2) + alpha / (2 (2
// sigma_b)^2)), and that noising the updates at z instead would spend more
// than the reported epsilon: the count bit is not free.
TEST(RunEpsilon, AdaptiveClippingCountNoiseIsAccountedFor) {
  const double z = 1.2, sigma_b = 1.5;  // the paper's sigma_b ~ m / 20 for m = 30
  const double z_delta = AdaptiveClippingNoiseMultiplier(z, sigma_b).value();
  const int64_t rounds = 50;
  PrivacyAccountant both, reported, unadjusted;
  ASSERT_TRUE(both.ComposeSubsampledGaussian(1.0, z_delta, rounds).ok());
  ASSERT_TRUE(both.ComposeSubsampledGaussian(1.0, 2 * sigma_b, rounds).ok());
  ASSERT_TRUE(reported.ComposeSubsampledGaussian(1.0, z, rounds).ok());
  ASSERT_TRUE(unadjusted.ComposeSubsampledGaussian(1.0, z, rounds).ok());
  ASSERT_TRUE(unadjusted.ComposeSubsampledGaussian(1.0, 2 * sigma_b, rounds).ok());
  for (size_t i = 0; i < both.rdp().size(); ++i) {
    EXPECT_NEAR(both.rdp()[i], reported.rdp()[i], 1e-9 * reported.rdp()[i]) << i;
  }
  const DpConfig config{.mode = DpMode::kLocal, .clip = 1, .noise_multiplier = z, .delta = 1e-5,
                        .adaptive_clip = true,
                        .adaptive = {.count_noise_stddev = sigma_b}};
  const double eps = RunEpsilon(config, 1.0, rounds).value();
  EXPECT_NEAR(both.Epsilon(1e-5).value().epsilon, eps, 1e-9 * eps);
  EXPECT_GT(unadjusted.Epsilon(1e-5).value().epsilon, 1.05 * eps);
}

}  // namespace
}  // namespace murmur::privacy
