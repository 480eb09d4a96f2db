#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "murmur/robust/aggregator_chain.h"
#include "murmur/robust/bucketing.h"
#include "murmur/robust/clipping.h"
#include "murmur/robust/coordinate_median.h"
#include "murmur/robust/mean.h"
#include "murmur/robust/nearest_neighbor_mixing.h"
#include "murmur/robust/trimmed_mean.h"
#include "unit/robust/test_util.h"

namespace murmur {
namespace {

using robust_test::Vectors;
using ::testing::ElementsAre;
using ::testing::FloatEq;

std::vector<std::vector<float>> Apply(const PreAggregator& pre, const Vectors& in,
                                      Rng* rng = nullptr) {
  std::vector<std::vector<float>> out;
  Status s = pre.Apply({.vectors = in.list(), .rng = rng}, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(StaticClipping, ScalesOnlyInputsLongerThanTau) {
  // (3,4) has norm 5 -> (0.6, 0.8); (0.3, 0.4) has norm 0.5 and stays.
  Vectors in{{3, 4}, {0.3f, 0.4f}};
  auto out = Apply(StaticClipping(1.0), in);
  EXPECT_THAT(out[0], ElementsAre(FloatEq(0.6f), FloatEq(0.8f)));
  EXPECT_THAT(out[1], ElementsAre(0.3f, 0.4f));
}

TEST(AdaptiveRobustClipping, ClipsTheLargestToTheNextLargestNorm) {
  // n = 5, f = 1: k = floor(2 * 1/5 * 4) = 1. Norms 5, 1, 2, 10, 0.5: the
  // largest (6,8) is clipped to the next largest norm 5 -> (3, 4).
  Vectors in{{3, 4}, {0, 1}, {0, 2}, {6, 8}, {0, 0.5f}};
  auto out = Apply(AdaptiveRobustClipping(1), in);
  EXPECT_THAT(out[3], ElementsAre(FloatEq(3.0f), FloatEq(4.0f)));
  for (size_t i : {0u, 1u, 2u, 4u}) EXPECT_EQ(out[i], in.data[i]) << i;
}

TEST(AdaptiveRobustClipping, ClipsNothingWithoutByzantines) {
  Vectors in{{3, 4}, {0, 1}, {60, 80}};
  auto out = Apply(AdaptiveRobustClipping(0), in);
  EXPECT_EQ(out, in.data);
}

TEST(NearestNeighborMixing, ReplacesEachInputByItsNeighbourhoodMean) {
  // n = 3, f = 1: each becomes the mean of its 2 nearest, itself included.
  //   0 -> {0, 1} -> 0.5;  1 -> {1, 0} -> 0.5;  10 -> {10, 1} -> 5.5
  Vectors in{{0}, {1}, {10}};
  auto out = Apply(NearestNeighborMixing(1), in);
  EXPECT_THAT(out, ElementsAre(ElementsAre(0.5f), ElementsAre(0.5f), ElementsAre(5.5f)));
}

TEST(Bucketing, AveragesBucketsOfARandomPermutation) {
  Vectors in{{1}, {2}, {4}, {8}, {16}};
  Rng rng(7, PeerId(0), RngPurpose::kTest);
  auto out = Apply(Bucketing(2), in, &rng);
  ASSERT_EQ(out.size(), 3u);  // ceil(5 / 2)
  // Buckets of sizes 2, 2, 1: their weighted sum is the sum of the inputs,
  // and every value is a mean of distinct powers of two.
  EXPECT_FLOAT_EQ(2 * out[0][0] + 2 * out[1][0] + out[2][0], 31.0f);
  // The same seed gives the same buckets.
  Rng again(7, PeerId(0), RngPurpose::kTest);
  EXPECT_EQ(Apply(Bucketing(2), in, &again), out);
}

TEST(Bucketing, NeedsAnRng) {
  Vectors in{{1}, {2}};
  std::vector<std::vector<float>> out;
  Status s = Bucketing(2).Apply({.vectors = in.list()}, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("bucketing"));
}

TEST(PreAggregator, DropsNonFiniteInputsAndReducesF) {
  // One NaN input with f = 1: the remaining 2 inputs with f' = 0 (so NNM
  // keeps n' - f' = 2 neighbours, i.e. both).
  Vectors in{{0}, {NAN}, {1}};
  auto out = Apply(NearestNeighborMixing(1), in);
  EXPECT_THAT(out, ElementsAre(ElementsAre(0.5f), ElementsAre(0.5f)));
}

TEST(AggregatorChain, EqualsApplyingTheStagesByHand) {
  Rng data_rng(3, PeerId(0), RngPurpose::kTest);
  Vectors in = robust_test::GaussianVectors(data_rng, 9, 41, 1.0f, 0.5f);
  std::vector<std::unique_ptr<PreAggregator>> stages;
  stages.push_back(std::make_unique<AdaptiveRobustClipping>(2));
  stages.push_back(std::make_unique<NearestNeighborMixing>(2));
  AggregatorChain chain(std::move(stages), std::make_unique<TrimmedMean>(2), 2);
  EXPECT_EQ(chain.name(), "arc>nnm>trimmed-mean");
  std::vector<float> out(41);
  ASSERT_TRUE(chain.Aggregate(in.list(), out).ok());

  Vectors clipped(Apply(AdaptiveRobustClipping(2), in));
  Vectors mixed(Apply(NearestNeighborMixing(2), clipped));
  std::vector<float> expected(41);
  ASSERT_TRUE(TrimmedMean(2).Aggregate(mixed.list(), expected).ok());
  EXPECT_EQ(out, expected);
}

TEST(AggregatorChain, StagesUseTheChainsFEvenBeforeTheMean) {
  // NNM with f = 1 keeps each input's 3 nearest: {0, 1, 2} for the first
  // three (mean 1) and {100, 2, 1} for the outlier (mean 103 / 3); the mean
  // of those is (3 + 103 / 3) / 4 = 28 / 3, not the plain mean 25.75.
  Vectors in{{0}, {1}, {2}, {100}};
  std::vector<std::unique_ptr<PreAggregator>> stages;
  stages.push_back(std::make_unique<NearestNeighborMixing>(1));
  AggregatorChain chain(std::move(stages), std::make_unique<Mean>(), 1);
  std::vector<float> out(1);
  ASSERT_TRUE(chain.Aggregate(in.list(), out).ok());
  EXPECT_FLOAT_EQ(out[0], 28.0f / 3.0f);
}

TEST(AggregatorChain, ChecksEachStagePreconditionOnItsInputCount) {
  // Bucketing 10 inputs by 2 leaves 5, too few for trimmed mean with f = 3.
  std::vector<std::unique_ptr<PreAggregator>> stages;
  stages.push_back(std::make_unique<Bucketing>(2));
  AggregatorChain chain(std::move(stages), std::make_unique<TrimmedMean>(3), 3);
  Status s = chain.CheckPreconditions(10, 3);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("trimmed-mean: n=5 f=3"));
}

TEST(AggregatorChain, PassesWeightsOnlyThroughOrderKeepingStages) {
  Vectors in{{1}, {3}};
  const double w[] = {1, 3};
  std::vector<float> out(1);
  std::vector<std::unique_ptr<PreAggregator>> clip;
  clip.push_back(std::make_unique<StaticClipping>(2.0));
  AggregatorChain clipped_mean(std::move(clip), std::make_unique<Mean>(), 0);
  // Clipped to {1, 2}; weighted (1*1 + 3*2) / 4 = 1.75.
  ASSERT_TRUE(clipped_mean.Aggregate({.vectors = in.list(), .weights = w}, out).ok());
  EXPECT_FLOAT_EQ(out[0], 1.75f);

  std::vector<std::unique_ptr<PreAggregator>> buckets;
  buckets.push_back(std::make_unique<Bucketing>(1));
  AggregatorChain bucketed(std::move(buckets), std::make_unique<Mean>(), 0);
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  EXPECT_EQ(bucketed.Aggregate({.vectors = in.list(), .weights = w, .rng = &rng}, out)
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace murmur
