// Bristle's prioritizer and integrator weights on hand-computed inputs.
#include "murmur/robust/bristle.h"

#include <gtest/gtest.h>

#include <vector>

namespace murmur {
namespace {

// Two classes, one feature: a layer is [w0, w1, b0, b1]; class c is (w_c, b_c).
constexpr BristleLayout kTwoByOne{.classes = 2, .fan_in = 1};

std::vector<std::span<const float>> Views(const std::vector<std::vector<float>>& v) {
  return {v.begin(), v.end()};
}

TEST(BristleClassDistance, UsesTheClassWeightRowAndItsBias) {
  const std::vector<float> own = {0, 0, 0, 0};
  const std::vector<float> b = {0, 3, 0, 4};
  EXPECT_DOUBLE_EQ(BristleClassDistance(own, b, kTwoByOne, 0), 0.0);
  EXPECT_DOUBLE_EQ(BristleClassDistance(own, b, kTwoByOne, 1), 25.0);  // 3^2 + 4^2
  // Three features: class 1 is weights [3, 6) and bias at 6 + 1.
  const BristleLayout wide{.classes = 2, .fan_in = 3};
  const std::vector<float> a = {1, 1, 1, 1, 2, 3, 5, 7};
  const std::vector<float> z(8, 0.0f);
  EXPECT_DOUBLE_EQ(BristleClassDistance(a, z, wide, 0), 3.0 + 25.0);
  EXPECT_DOUBLE_EQ(BristleClassDistance(a, z, wide, 1), 1.0 + 4.0 + 9.0 + 49.0);
}

TEST(BristlePrioritize, KeepsTheNearestPerClassTiesToTheLowerIndex) {
  const std::vector<float> own = {0, 0, 0, 0};
  // Squared distances per class: A (1, 0), B (0, 25), C (5, 1), D (1, 0).
  const std::vector<std::vector<float>> c = {{1, 0, 0, 0}, {0, 3, 0, 4}, {2, 1, 1, 0},
                                             {0, 0, 1, 0}};
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  auto one = BristlePrioritize(own, Views(c), kTwoByOne, {.exploit = 1, .explore = 0}, rng);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)[0], (std::vector<size_t>{1}));  // B
  EXPECT_EQ((*one)[1], (std::vector<size_t>{0}));  // A and D tie at 0: A
  auto two = BristlePrioritize(own, Views(c), kTwoByOne, {.exploit = 2, .explore = 0}, rng);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ((*two)[0], (std::vector<size_t>{0, 1}));  // B, then A (ties with D)
  EXPECT_EQ((*two)[1], (std::vector<size_t>{0, 3}));  // A and D
  auto all = BristlePrioritize(own, Views(c), kTwoByOne, {.exploit = 20, .explore = 5}, rng);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0], (std::vector<size_t>{0, 1, 2, 3}));
}

TEST(BristlePrioritize, ExploresUniformlyAmongTheRest) {
  const std::vector<float> own = {0, 0, 0, 0};
  const std::vector<std::vector<float>> c = {{1, 0, 0, 0}, {0, 3, 0, 4}, {2, 1, 1, 0},
                                             {0, 0, 1, 0}};
  // Class 0 nearest is B (index 1); one of A, C, D joins it at random.
  std::vector<int> seen(4, 0);
  Rng rng(7, PeerId(0), RngPurpose::kTest);
  for (int trial = 0; trial < 600; ++trial) {
    auto s = BristlePrioritize(own, Views(c), kTwoByOne, {.exploit = 1, .explore = 1}, rng);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ((*s)[0].size(), 2u);
    ASSERT_TRUE((*s)[0][0] == 1 || (*s)[0][1] == 1);
    for (size_t j : (*s)[0]) ++seen[j];
  }
  EXPECT_EQ(seen[1], 600);
  for (size_t j : {0, 2, 3}) {
    EXPECT_GT(seen[j], 150) << j;  // expected 200 each
    EXPECT_LT(seen[j], 250) << j;
  }
}

TEST(BristlePrioritize, RejectsWrongSizes) {
  const std::vector<float> own = {0, 0, 0, 0};
  const std::vector<std::vector<float>> c = {{1, 0, 0}};
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  EXPECT_EQ(BristlePrioritize(own, Views(c), kTwoByOne, {}, rng).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(BristlePrioritize(own, {}, kTwoByOne, {.exploit = -1}, rng).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BristleScore, FollowsThePaperFormula) {
  // own 0.5, candidate 0.7: d = 2, s = 2^(3 + 0.5).
  EXPECT_NEAR(BristleScore(0.5, 0.7), 11.313708498984761, 1e-12);
  // own 0.5, candidate 0.3: s = -2^(4 + 0.5).
  EXPECT_NEAR(BristleScore(0.5, 0.3), -22.627416997969522, 1e-12);
  EXPECT_EQ(BristleScore(0.4, 0.4), 0.0);
  // g(0) = 10 * 0.5 - 4 = 1: an equal model weighs as much as the own one.
  EXPECT_DOUBLE_EQ(BristleScoreWeight(0.0), 1.0);
  EXPECT_NEAR(BristleScoreWeight(11.313708498984761), 1.2825413992563561, 1e-12);
  EXPECT_NEAR(BristleScoreWeight(-22.627416997969522), 0.4367158723042355, 1e-12);
  EXPECT_EQ(BristleScoreWeight(-41.0), 0.0);  // sigmoid(-0.41) < 0.4
  EXPECT_NEAR(BristleScoreWeight(1e6), 6.0, 1e-12);
  // mean 0.7 - population std sqrt(0.08 / 3).
  EXPECT_NEAR(BristleCertainty(std::vector<double>{0.5, 0.7, 0.9}), 0.5367006838144548, 1e-12);
  EXPECT_NEAR(BristleCertainty(std::vector<double>{0.1, 0.9}), 0.1, 1e-12);
  EXPECT_EQ(BristleCertainty(std::vector<double>{0.0, 1.0}), 0.0);
  EXPECT_EQ(BristleCertainty({}), 0.0);
}

TEST(BristleIntegratorWeights, WeighsFamiliarClassesAloneAndForeignOnesByTheSum) {
  const std::vector<double> own = {0.5, 0.5, 0.0};
  const bool familiar[] = {true, true, false};
  const std::vector<std::vector<double>> candidates = {
      {0.7, 0.5, 0.9},  // better on class 0, equal on class 1; certainty 0.6 - 0.1
      {0.1, 0.1, 0.0},  // far worse: s = -4^4.5 = -512 on both
  };
  auto w = BristleIntegratorWeights(own, candidates, familiar);
  ASSERT_TRUE(w.ok());
  EXPECT_NEAR(w->per_class[0][0], 1.2825413992563561 * 0.5, 1e-12);
  EXPECT_NEAR(w->per_class[0][1], 1.0 * 0.5, 1e-12);
  EXPECT_EQ(w->per_class[0][2], 0.0);  // foreign: no per-class weight
  // Foreign weight from the summed score 11.3137 + 0.
  EXPECT_NEAR(w->foreign[0], 1.2825413992563561 * 0.5, 1e-12);
  EXPECT_EQ(w->per_class[1], (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(w->foreign[1], 0.0);

  EXPECT_FALSE(BristleIntegratorWeights(own, {{0.5, 1.5, 0}}, familiar).ok());
  EXPECT_FALSE(BristleIntegratorWeights(own, {{0.5, 0.5}}, familiar).ok());
}

TEST(BristleIntegrate, AveragesEachClassWithTheOwnModelAtWeightOne) {
  const std::vector<std::vector<float>> c = {{2, 4, 6, 8}};
  BristleWeights w{.per_class = {{1.0, 3.0}}, .foreign = {1.0}};
  const std::vector<std::vector<size_t>> both = {{0}, {0}};
  {
    std::vector<float> own = {0, 0, 0, 0};
    const bool familiar[] = {true, true};
    ASSERT_TRUE(BristleIntegrate(own, Views(c), kTwoByOne, both, w, familiar).ok());
    // class 0: (0 + 1 * (2, 6)) / 2; class 1: (0 + 3 * (4, 8)) / 4.
    EXPECT_EQ(own, (std::vector<float>{1, 3, 3, 6}));
  }
  {
    std::vector<float> own = {0, 0, 0, 0};
    const bool familiar[] = {true, false};  // class 1 foreign: weight 1
    ASSERT_TRUE(BristleIntegrate(own, Views(c), kTwoByOne, both, w, familiar).ok());
    EXPECT_EQ(own, (std::vector<float>{1, 2, 3, 4}));
  }
  {
    std::vector<float> own = {0, 0, 0, 0};
    const bool familiar[] = {true, true};
    const std::vector<std::vector<size_t>> only0 = {{0}, {}};  // not prioritized for class 1
    ASSERT_TRUE(BristleIntegrate(own, Views(c), kTwoByOne, only0, w, familiar).ok());
    EXPECT_EQ(own, (std::vector<float>{1, 0, 3, 0}));
  }
  {
    std::vector<float> own = {0, 0, 0, 0};
    const bool familiar[] = {true, true};
    BristleWeights bad{.per_class = {{-1.0, 0.0}}, .foreign = {0.0}};
    EXPECT_FALSE(BristleIntegrate(own, Views(c), kTwoByOne, both, bad, familiar).ok());
    EXPECT_EQ(own, (std::vector<float>{0, 0, 0, 0}));
  }
}

}  // namespace
}  // namespace murmur
