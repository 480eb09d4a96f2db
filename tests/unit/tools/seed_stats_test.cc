#include "seed_stats.h"

#include <gtest/gtest.h>

#include <vector>

namespace murmur::cli {
namespace {

TEST(SeedStats, EmptyAndSingleSeedHaveNoInterval) {
  EXPECT_EQ(MeanAnd95({}).n, 0u);
  const std::vector<double> one = {0.8};
  const SeedStats s = MeanAnd95(one);
  EXPECT_EQ(s.n, 1u);
  EXPECT_DOUBLE_EQ(s.mean, 0.8);
  EXPECT_DOUBLE_EQ(s.half_width, 0.0);
}

TEST(SeedStats, ThreeSeedsByHand) {
  // mean 2, sample sd 1, t(2) = 4.303: half width 4.303 / sqrt(3).
  const std::vector<double> v = {1.0, 2.0, 3.0};
  const SeedStats s = MeanAnd95(v);
  EXPECT_EQ(s.n, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
  EXPECT_NEAR(s.half_width, 2.484339, 1e-6);
}

TEST(SeedStats, QuantilesFromTheTableAndTheNormalLimit) {
  EXPECT_DOUBLE_EQ(StudentT975(1), 12.706);
  EXPECT_DOUBLE_EQ(StudentT975(4), 2.776);
  EXPECT_DOUBLE_EQ(StudentT975(30), 2.042);
  EXPECT_DOUBLE_EQ(StudentT975(1000), 1.960);
}

TEST(SeedStats, IdenticalSeedsHaveZeroWidth) {
  const std::vector<double> v = {0.5, 0.5, 0.5, 0.5};
  EXPECT_DOUBLE_EQ(MeanAnd95(v).half_width, 0.0);
}

}  // namespace
}  // namespace murmur::cli
