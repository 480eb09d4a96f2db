// Hand-computed values for every rule on tiny inputs. The arithmetic is in
// the comments; sums of a few small integers are exact in float.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "murmur/robust/bulyan.h"
#include "murmur/robust/centered_clipping.h"
#include "murmur/robust/coordinate_median.h"
#include "murmur/robust/flag_aggregator.h"
#include "murmur/robust/geometric_median.h"
#include "murmur/robust/krum.h"
#include "murmur/robust/meamed.h"
#include "murmur/robust/mean.h"
#include "murmur/robust/nearest_neighbor_averaging.h"
#include "murmur/robust/kernels.h"
#include "murmur/robust/similarity_downweighting.h"
#include "murmur/robust/sybilwall.h"
#include "murmur/robust/trimmed_mean.h"
#include "unit/robust/test_util.h"

namespace murmur {
namespace {

using robust_test::Vectors;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::FloatNear;

// Five vectors of dimension 3; x4 is the outlier.
//   coordinate 0: {1, 2, 3, 4, 100}   sorted {1, 2, 3, 4, 100}
//   coordinate 1: {0, 1, 2, 9, -50}   sorted {-50, 0, 1, 2, 9}
//   coordinate 2: {2, 4, 7, 8, 0}     sorted {0, 2, 4, 7, 8}
Vectors Five() {
  return Vectors{{1, 0, 2}, {2, 1, 4}, {3, 2, 7}, {4, 9, 8}, {100, -50, 0}};
}

// Krum's example, dimension 2, f = 1 (n - f - 2 = 2 neighbours):
//   x0 = (0,0), x1 = (2,0), x2 = (0,1), x3 = (1,1), x4 = (9,9).
// Squared distances: d01=4 d02=1 d03=2 d04=162 d12=5 d13=2 d14=130 d23=1
// d24=145 d34=128. Scores (sum of the 2 smallest):
//   x0: 1+2=3  x1: 2+4=6  x2: 1+1=2  x3: 1+2=3  x4: 128+130=258.
Vectors KrumSet() { return Vectors{{0, 0}, {2, 0}, {0, 1}, {1, 1}, {9, 9}}; }

std::vector<float> AggregateOf(const Aggregator& rule, const Vectors& in,
                       std::span<const float> reference = {},
                       std::span<const double> weights = {}) {
  std::vector<float> out(in.data[0].size(), -12345.0f);
  Status s = rule.Aggregate(
      AggregationInput{.vectors = in.list(), .weights = weights, .reference = reference},
      out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(Mean, AveragesEveryCoordinate) {
  // (110/5, -38/5, 21/5)
  EXPECT_THAT(AggregateOf(Mean(), Five()),
              ElementsAre(FloatEq(22.0f), FloatEq(-7.6f), FloatEq(4.2f)));
}

TEST(Mean, WeightsInputsByTheirWeight) {
  // weights (1, 3, 0, 0, 0): (1*1 + 3*2)/4 = 1.75, (0 + 3)/4 = 0.75, (2 + 12)/4 = 3.5
  const double w[] = {1, 3, 0, 0, 0};
  EXPECT_THAT(AggregateOf(Mean(), Five(), {}, w),
              ElementsAre(FloatEq(1.75f), FloatEq(0.75f), FloatEq(3.5f)));
}

TEST(Mean, RejectsNegativeZeroSumOrMiscountedWeights) {
  Vectors in = Five();
  std::vector<float> out(3);
  const double negative[] = {1, -1, 1, 1, 1};
  const double zeros[] = {0, 0, 0, 0, 0};
  const double three[] = {1, 1, 1};
  for (std::span<const double> w : {std::span<const double>(negative),
                                    std::span<const double>(zeros),
                                    std::span<const double>(three)}) {
    Status s = Mean().Aggregate({.vectors = in.list(), .weights = w}, out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), ::testing::HasSubstr("mean"));
  }
}

TEST(CoordinateMedian, TakesTheMiddleValueOfEachCoordinate) {
  EXPECT_THAT(AggregateOf(CoordinateMedian(), Five()), ElementsAre(3.0f, 1.0f, 4.0f));
}

TEST(CoordinateMedian, AveragesTheTwoMiddleValuesForEvenN) {
  // Drop x4: coordinate 0 {1,2,3,4} -> 2.5; 1 {0,1,2,9} -> 1.5; 2 {2,4,7,8} -> 5.5
  Vectors four{{1, 0, 2}, {2, 1, 4}, {3, 2, 7}, {4, 9, 8}};
  EXPECT_THAT(AggregateOf(CoordinateMedian(), four), ElementsAre(2.5f, 1.5f, 5.5f));
}

TEST(CoordinateMedian, OfEqualDenormalsIsThatDenormal) {
  const float tiny = 1e-45f;  // the smallest positive float
  Vectors two{{tiny, -3e38f}, {tiny, 3e38f}};
  EXPECT_THAT(AggregateOf(CoordinateMedian(), two), ElementsAre(tiny, 0.0f));
}

TEST(TrimmedMean, DropsFSmallestAndLargestPerCoordinate) {
  // f=1: mean(2,3,4)=3, mean(0,1,2)=1, mean(2,4,7)=13/3
  EXPECT_THAT(AggregateOf(TrimmedMean(1), Five()),
              ElementsAre(FloatEq(3.0f), FloatEq(1.0f), FloatEq(13.0f / 3.0f)));
}

TEST(TrimmedMean, WithZeroTrimIsTheMean) {
  EXPECT_THAT(AggregateOf(TrimmedMean(0), Five()),
              ElementsAre(FloatEq(22.0f), FloatEq(-7.6f), FloatEq(4.2f)));
}

TEST(MeaMed, AveragesTheNMinusFValuesNearestTheMedian) {
  // f=1, keep 4 per coordinate:
  //   coord 0: median 3, nearest 4 are {1,2,3,4} -> 2.5
  //   coord 1: median 1, nearest 4 are {0,1,2,9} (9 is 8 away, -50 is 51) -> 3
  //   coord 2: median 4, {2,4,7} then 0 and 8 tie at distance 4; the tie goes
  //            to the window of smaller values {0,2,4,7} -> 13/4
  EXPECT_THAT(AggregateOf(MeaMed(1), Five()),
              ElementsAre(FloatEq(2.5f), FloatEq(3.0f), FloatEq(3.25f)));
}

TEST(Krum, SelectsTheInputWithTheLowestScore) {
  EXPECT_THAT(AggregateOf(Krum(1), KrumSet()), ElementsAre(0.0f, 1.0f));  // x2
}

TEST(Krum, ScoresMatchHandComputation) {
  Vectors in = KrumSet();
  std::vector<double> d = {0, 4, 1, 2, 162, 4, 0, 5, 2, 130, 1, 5, 0, 1, 145,
                           2, 2, 1, 0, 128, 162, 130, 145, 128, 0};
  EXPECT_THAT(KrumScores(d, 5, 2), ElementsAre(3, 6, 2, 3, 258));
}

TEST(MultiKrum, AveragesTheMLowestScores) {
  // m = n - f = 4: x2 (2), x0 (3), x3 (3), x1 (6) -> ((0+2+0+1)/4, (0+0+1+1)/4)
  EXPECT_THAT(AggregateOf(MultiKrum(1, 0), KrumSet()), ElementsAre(0.75f, 0.5f));
  // m = 2: x2, then x0 and x3 tie at 3; the tie goes to the smaller sum of
  // all distances, x3's 2+2+1+128 = 133 against x0's 169 -> (0.5, 1)
  EXPECT_THAT(AggregateOf(MultiKrum(1, 2), KrumSet()), ElementsAre(0.5f, 1.0f));
}

TEST(Bulyan, SelectsByRecursiveKrumThenAveragesAroundTheMedian) {
  // n = 7, f = 1: theta = 5 selections, beta = 3 values averaged. 1-D values
  // {0, 1, 2, 3, 4, 100, -100}. Krum rounds (neighbours = remaining - 3):
  //   7 left, 4 nbrs: scores 0:30 1:15 2:10 3:15 4:30 -> pick 2
  //   6 left, 3 nbrs: 0:26 1:14 3:14 4:26 -> tie, pick 1
  //   5 left, 2 nbrs: 0:9+16=25 3:9+1=10 4:16+1=17 -> pick 3
  //   4 left, 1 nbr: 0:16 4:16 -> tie, pick 0
  //   3 left, 0 nbrs: all 0 -> pick 4
  // Selected {0,1,2,3,4}; the 3 nearest the median 2 are {1,2,3} -> 2.
  Vectors in{{0}, {1}, {2}, {3}, {4}, {100}, {-100}};
  EXPECT_THAT(AggregateOf(Bulyan(1), in), ElementsAre(FloatEq(2.0f)));
}

TEST(Bulyan, BoundsEachCoordinateEvenWhenSelectionIsFooled) {
  // Two coordinates; the 2 Byzantine inputs agree with the honest ones on
  // coordinate 0 and lie on coordinate 1. Output coordinates stay in the
  // honest range.
  Vectors in{{0, 0}, {1, 1}, {2, 0}, {1, -1}, {0, 1}, {2, 1}, {1, 0},
             {1, 0},  {1, 0}, {1, 50}, {1, 50}};
  std::vector<float> out = AggregateOf(Bulyan(2), in);
  EXPECT_GE(out[0], 0.0f);
  EXPECT_LE(out[0], 2.0f);
  EXPECT_GE(out[1], -1.0f);
  EXPECT_LE(out[1], 1.0f);
}

TEST(GeometricMedian, OfThreeCollinearPointsIsTheMiddleOne) {
  Vectors in{{0, 0}, {1, 0}, {5, 0}};
  EXPECT_THAT(AggregateOf(GeometricMedian(1), in), ElementsAre(FloatNear(1.0f, 1e-4f),
                                                       FloatNear(0.0f, 1e-6f)));
}

TEST(GeometricMedian, OfSymmetricPointsIsTheCenter) {
  // The corners of a square around (3, -2): by symmetry the center.
  Vectors in{{2, -3}, {4, -3}, {2, -1}, {4, -1}};
  EXPECT_THAT(AggregateOf(GeometricMedian(1), in), ElementsAre(FloatNear(3.0f, 1e-5f),
                                                       FloatNear(-2.0f, 1e-5f)));
}

TEST(GeometricMedian, WeightsShiftTheMedian) {
  // Weight 3 on 0 and 1 on 1 and 1 on 10: any point's weight-3 side wins,
  // so the weighted median of these collinear points is 0.
  Vectors in{{0}, {1}, {10}};
  const double w[] = {3, 1, 1};
  EXPECT_THAT(AggregateOf(GeometricMedian(1), in, {}, w), ElementsAre(FloatNear(0.0f, 1e-4f)));
}

TEST(CenteredClipping, ClipsEachDeviationToTauAroundTheCenter) {
  // Center 0, tau 1, one iteration: (3,4) has norm 5 -> (0.6, 0.8); (0.3,0.4)
  // is inside; (0,0) adds nothing. v = ((0.6+0.3)/3, (0.8+0.4)/3) = (0.3, 0.4).
  Vectors in{{3, 4}, {0.3f, 0.4f}, {0, 0}};
  CenteredClipping cc(1, {.tau = 1.0, .iterations = 1});
  EXPECT_THAT(AggregateOf(cc, in), ElementsAre(FloatEq(0.3f), FloatEq(0.4f)));
}

TEST(CenteredClipping, ClipsAroundTheGivenReference) {
  // Center (10, 10), tau 1: (13,14) -> (10.6, 10.8); (10,10) stays; (10, 0)
  // has deviation (0,-10) -> (0,-1). v = (10 + 0.6/3, 10 + (0.8 - 1)/3).
  Vectors in{{13, 14}, {10, 10}, {10, 0}};
  const float center[] = {10, 10};
  CenteredClipping cc(1, {.tau = 1.0, .iterations = 1});
  EXPECT_THAT(AggregateOf(cc, in, center),
              ElementsAre(FloatEq(10.2f), FloatNear(10.0f - 0.2f / 3.0f, 1e-6f)));
}

TEST(FlagAggregator, ProjectsOntoTheMajoritySubspace) {
  // u0 = u1 = e1, u2 = e2. sum_i sqrt(1 - (y.u_i)^2) is 1 at y = e1 and
  // larger elsewhere, so Y = e1 and out = Y Y^T (u0 + u1 + u2) / 1 = (2,0,0).
  Vectors in{{1, 0, 0}, {2, 0, 0}, {0, 1, 0}};
  FlagAggregator flag(0, {});
  EXPECT_THAT(AggregateOf(flag, in), ElementsAre(FloatNear(2.0f, 1e-5f), FloatNear(0.0f, 1e-5f),
                                         FloatNear(0.0f, 1e-5f)));
  // Rescaled to the median input norm, median{1, 2, 1} = 1.
  FlagAggregator rescaled(0, {.rescale_to_median_norm = true});
  EXPECT_THAT(AggregateOf(rescaled, in), ElementsAre(FloatNear(1.0f, 1e-5f),
                                             FloatNear(0.0f, 1e-5f),
                                             FloatNear(0.0f, 1e-5f)));
}

TEST(NearestNeighborAveraging, AveragesTheNMinusFNearestToTheReference) {
  // Reference x0 = (0,0): distances x0 0, x2 1, x3 2, x1 4, x4 162; the 4
  // nearest are x0, x2, x3, x1 -> (0.75, 0.5).
  Vectors in = KrumSet();
  const float own[] = {0, 0};
  EXPECT_THAT(AggregateOf(NearestNeighborAveraging(1), in, own), ElementsAre(0.75f, 0.5f));
}

TEST(NearestNeighborAveraging, NeedsAReference) {
  Vectors in = KrumSet();
  std::vector<float> out(2);
  Status s = NearestNeighborAveraging(1).Aggregate(in.list(), out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("reference"));
}

TEST(SimilarityDownweighting, SilencesIdenticalSybils) {
  // cos(x0, x1) = 1 -> w0 = w1 = 0; cos(x2, .) = 0 -> w2 = 1. out = x2.
  Vectors in{{1, 0}, {1, 0}, {0, 1}};
  EXPECT_THAT(AggregateOf(SimilarityDownweighting(), in), ElementsAre(0.0f, 1.0f));
}

TEST(SimilarityDownweighting, KeepsDissimilarInputsAtFullWeight) {
  // Pairwise cosines 0, -1, 0: every max is 0, every weight 1 -> the mean.
  Vectors in{{1, 0}, {0, 1}, {-1, 0}};
  EXPECT_THAT(AggregateOf(SimilarityDownweighting(), in),
              ElementsAre(FloatEq(0.0f), FloatEq(1.0f / 3.0f)));
}

// x0 = (1,0), x1 = (0.6,0.8), x2 = (0,1): cos01 = 0.6, cos02 = 0, cos12 = 0.8.
std::vector<double> ScoresOfThree(const SimilarityScoreOptions& options) {
  Vectors in{{1, 0}, {0.6f, 0.8f}, {0, 1}};
  return SimilarityScores(GramMatrix(in.list()), 3, options);
}

TEST(SimilarityScores, PlainAndLogitOnHandComputedCosines) {
  // Largest cosines 0.6, 0.8, 0.8 -> 1 - those = 0.4, 0.2, 0.2 -> / 0.4.
  EXPECT_THAT(ScoresOfThree({}), ElementsAre(DoubleNear(1.0, 1e-6), DoubleNear(0.5, 1e-6),
                                             DoubleNear(0.5, 1e-6)));
  // logit(1) = 1, ln(0.5 / 0.5) + 0.5 = 0.5: the same here.
  EXPECT_THAT(ScoresOfThree({.logit = true}),
              ElementsAre(DoubleNear(1.0, 1e-6), DoubleNear(0.5, 1e-6), DoubleNear(0.5, 1e-6)));
}

TEST(SimilarityScores, PardoningForgivesTheInputLessSimilarThanItsNeighbour) {
  // v = largest cosine + 1e-5 = (0.60001, 0.80001, 0.80001). Only x0 has a
  // v below another's: cos01 becomes 0.6 * 0.60001 / 0.80001, so
  // w0 = 1 - that; w1 = w2 = 0.2; rescaled by w0.
  const double w0 = 1 - 0.6 * (0.60001 / 0.80001);
  const double w1 = 0.2 / w0;
  EXPECT_NEAR(w1, 0.363638, 1e-6);
  EXPECT_THAT(ScoresOfThree({.pardoning = true}),
              ElementsAre(DoubleNear(1.0, 1e-9), DoubleNear(w1, 1e-6), DoubleNear(w1, 1e-6)));
  // The logit sends ln(0.3636 / 0.6364) + 0.5 = -0.0596 to 0.
  EXPECT_THAT(ScoresOfThree({.pardoning = true, .logit = true}),
              ElementsAre(DoubleNear(1.0, 1e-9), DoubleNear(0.0, 1e-12), DoubleNear(0.0, 1e-12)));
  // As a rule: x0 alone.
  Vectors in{{1, 0}, {0.6f, 0.8f}, {0, 1}};
  EXPECT_THAT(AggregateOf(SimilarityDownweighting(0, {.pardoning = true, .logit = true}), in),
              ElementsAre(FloatEq(1.0f), FloatEq(0.0f)));
}

TEST(SybilWallAggregate, OwnModelWeighsOneAndADistantCopySilencesANeighbour) {
  // Histories: neighbour a (1,0), neighbour b (0,1), distant c (1,0) = a's.
  // cos(a,c) = 1 -> a and c score 0 (pardoning: v_b = 1e-5 is below the
  // others', which changes nothing as cos(b, .) = 0); b scores 1.
  // Weights own 1, a 0, b 1 -> (own + m_b) / 2.
  Vectors models{{2, 0}, {0, 2}};
  Vectors histories{{1, 0}, {0, 1}, {1, 0}};
  std::vector<float> own{0, 0};
  std::vector<double> weights;
  ASSERT_TRUE(SybilWallAggregate(own, models.list(), histories.list(),
                                 SybilWallOptions{}.score, &weights)
                  .ok());
  EXPECT_THAT(own, ElementsAre(0.0f, 1.0f));
  EXPECT_THAT(weights, ElementsAre(0.5, 0.0, 0.5));
  // Without the distant record a and b are orthogonal: (own + m_a + m_b) / 3.
  Vectors near{{1, 0}, {0, 1}};
  std::vector<float> own2{0, 0};
  ASSERT_TRUE(
      SybilWallAggregate(own2, models.list(), near.list(), SybilWallOptions{}.score).ok());
  EXPECT_THAT(own2, ElementsAre(FloatEq(2.0f / 3.0f), FloatEq(2.0f / 3.0f)));
}

TEST(SybilWallAggregate, DropsNonFiniteHistoriesAndModelsAndChecksCounts) {
  const float nan = std::nanf("");
  // a's history is NaN: a gets 0; b scores alone -> 1. c's model is NaN:
  // weight 0 and never read. (own + m_b) / 2.
  Vectors models{{2, 0}, {0, 2}, {nan, 1}};
  Vectors histories{{nan, 0}, {0, 1}, {1, 1}};
  std::vector<float> own{0, 0};
  std::vector<double> weights;
  ASSERT_TRUE(SybilWallAggregate(own, models.list(), histories.list(), {}, &weights).ok());
  // Plain scores of b (0,1) and c (1,1): cos = 0.7071 -> both 0.2929 -> 1, 1.
  EXPECT_THAT(weights, ElementsAre(0.5, 0.0, 0.5, 0.0));
  EXPECT_THAT(own, ElementsAre(0.0f, 1.0f));
  // Fewer histories than models: rejected, own unchanged.
  Vectors one{{1, 0}};
  std::vector<float> kept{4, 4};
  EXPECT_EQ(SybilWallAggregate(kept, models.list(), one.list(), {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_THAT(kept, ElementsAre(4.0f, 4.0f));
}

}  // namespace
}  // namespace murmur
