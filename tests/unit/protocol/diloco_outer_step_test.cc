// The outer step of DiLoCo (protocol/diloco.h) on hand-computed values:
// SGD with Nesterov momentum as PyTorch's torch.optim.SGD computes it.
#include <gtest/gtest.h>

#include <vector>

#include "murmur/protocol/diloco.h"

namespace murmur {
namespace {

TEST(OuterSgdStep, NesterovMatchesHandComputedValues) {
  std::vector<float> theta = {1.0f, 2.0f};
  std::vector<float> m = {0.0f, 0.5f};
  const std::vector<float> g = {0.5f, -1.0f};
  OuterSgdStep(theta, m, g, 0.7, 0.9, /*nesterov=*/true);
  // m = 0.9 m + g = {0.5, -0.55}; theta -= 0.7 (g + 0.9 m)
  //   = {1 - 0.7 * 0.95, 2 - 0.7 * (-1.495)} = {0.335, 3.0465}.
  EXPECT_FLOAT_EQ(m[0], 0.5f);
  EXPECT_FLOAT_EQ(m[1], -0.55f);
  EXPECT_FLOAT_EQ(theta[0], 0.335f);
  EXPECT_FLOAT_EQ(theta[1], 3.0465f);
  // A second step with the same g: m = {0.95, -1.495};
  // theta -= 0.7 {0.5 + 0.855, -1 - 1.3455} = {0.335 - 0.9485, 3.0465 + 1.64185}.
  OuterSgdStep(theta, m, g, 0.7, 0.9, /*nesterov=*/true);
  EXPECT_FLOAT_EQ(m[0], 0.95f);
  EXPECT_FLOAT_EQ(m[1], -1.495f);
  EXPECT_FLOAT_EQ(theta[0], -0.6135f);
  EXPECT_FLOAT_EQ(theta[1], 4.68835f);
}

TEST(OuterSgdStep, PlainMomentumStepsAlongTheBuffer) {
  std::vector<float> theta = {1.0f, 2.0f};
  std::vector<float> m = {0.0f, 0.5f};
  const std::vector<float> g = {0.5f, -1.0f};
  OuterSgdStep(theta, m, g, 0.7, 0.9, /*nesterov=*/false);
  // theta -= 0.7 m = {1 - 0.35, 2 + 0.385}.
  EXPECT_FLOAT_EQ(theta[0], 0.65f);
  EXPECT_FLOAT_EQ(theta[1], 2.385f);
}

// lr 1 without momentum: theta - mean(theta - x_i) = mean(x_i), the
// synchronous model average.
TEST(OuterSgdStep, UnitLrWithoutMomentumGivesTheMeanOfThePeersModels) {
  const std::vector<float> theta0 = {0.25f, -1.0f, 3.0f};
  const std::vector<std::vector<float>> peers = {
      {0.5f, -1.5f, 2.0f}, {0.0f, 0.0f, 3.5f}, {1.0f, -0.5f, 3.0f}, {-0.5f, -2.0f, 1.5f}};
  std::vector<float> mean_delta(3, 0.0f);
  std::vector<float> mean_model(3, 0.0f);
  for (const auto& x : peers) {
    for (size_t i = 0; i < 3; ++i) {
      mean_delta[i] += (theta0[i] - x[i]) / 4.0f;
      mean_model[i] += x[i] / 4.0f;
    }
  }
  std::vector<float> theta = theta0;
  std::vector<float> m(3, 0.0f);
  OuterSgdStep(theta, m, mean_delta, 1.0, 0.0, /*nesterov=*/true);
  for (size_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(theta[i], mean_model[i]) << i;
}

// CO2's staleness gap penalty and outer momentum clipping (co2_spec.cc).
TEST(OuterSgdStep, GapPenaltyScalesTheStaleAggregateAndClippingBoundsTheMomentum) {
  std::vector<float> theta = {1.0f, 2.0f};
  std::vector<float> m = {0.0f, 0.5f};
  const std::vector<float> g = {0.5f, -1.0f};
  OuterSgdStep(theta, m, g, 0.7, 0.9, /*nesterov=*/true, /*gap_penalty=*/2.0,
               /*momentum_clip=*/0.3);
  // g / 2 = {0.25, -0.5}; m = 0.9 m + g / 2 = {0.25, -0.05}, inside [-0.3, 0.3];
  // theta -= 0.7 (g / 2 + 0.9 m) = {1 - 0.7 * 0.475, 2 - 0.7 * (-0.545)}.
  EXPECT_FLOAT_EQ(m[0], 0.25f);
  EXPECT_FLOAT_EQ(m[1], -0.05f);
  EXPECT_FLOAT_EQ(theta[0], 0.6675f);
  EXPECT_FLOAT_EQ(theta[1], 2.3815f);
  // Again: m = {0.475, -0.545} clipped to {0.3, -0.3};
  // theta -= 0.7 {0.25 + 0.27, -0.5 - 0.27} = {0.6675 - 0.364, 2.3815 + 0.539}.
  OuterSgdStep(theta, m, g, 0.7, 0.9, /*nesterov=*/true, 2.0, 0.3);
  EXPECT_FLOAT_EQ(m[0], 0.3f);
  EXPECT_FLOAT_EQ(m[1], -0.3f);
  EXPECT_FLOAT_EQ(theta[0], 0.3035f);
  EXPECT_FLOAT_EQ(theta[1], 2.9205f);
}

// The defaults (penalty 1, no clipping) are DiLoCo's step, bit for bit:
// the same floats as m = mu m + g; theta -= lr (g + mu m) written out.
TEST(OuterSgdStep, NeutralCo2OptionsGiveDilocosStepExactly) {
  std::vector<float> theta = {1.0f, 2.0f, -3.0f}, expected_theta = theta;
  std::vector<float> m = {0.1f, -0.2f, 0.3f}, expected_m = m;
  const std::vector<float> g = {0.123f, -4.56f, 7.89f};
  const float lr = 0.7f, mu = 0.9f;
  for (size_t i = 0; i < g.size(); ++i) {
    expected_m[i] = mu * expected_m[i] + g[i];
    expected_theta[i] -= lr * (g[i] + mu * expected_m[i]);
  }
  OuterSgdStep(theta, m, g, 0.7, 0.9, true, 1.0, 0.0);
  EXPECT_EQ(theta, expected_theta);
  EXPECT_EQ(m, expected_m);
}

}  // namespace
}  // namespace murmur
