#include "robust/order_statistics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "unit/robust/test_util.h"

namespace murmur::robust_internal {
namespace {

using robust_test::Vectors;

std::vector<int> ApplyScalar(const std::vector<Comparator>& net, std::vector<int> v) {
  for (const auto& c : net) {
    if (v[c.hi] < v[c.lo]) std::swap(v[c.lo], v[c.hi]);
  }
  return v;
}

// By the 0-1 principle a network sorts every input iff it sorts every 0-1
// input; the same holds position by position for the pruned networks.
TEST(OddEvenMergeSortNetwork, SortsEveryZeroOneInput) {
  for (size_t n = 1; n <= 13; ++n) {
    const auto net = OddEvenMergeSortNetwork(n);
    for (uint32_t bits = 0; bits < (1u << n); ++bits) {
      std::vector<int> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = (bits >> i) & 1;
      std::vector<int> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(ApplyScalar(net, v), sorted) << "n=" << n << " bits=" << bits;
    }
  }
}

TEST(PruneNetwork, KeepsTheSelectedOutputsCorrect) {
  for (size_t n = 2; n <= 13; ++n) {
    const auto net = OddEvenMergeSortNetwork(n);
    const size_t outputs[] = {(n - 1) / 2, n / 2};
    const auto median = PruneNetwork(net, n, outputs);
    EXPECT_LE(median.size(), net.size());
    for (uint32_t bits = 0; bits < (1u << n); ++bits) {
      std::vector<int> v(n);
      for (size_t i = 0; i < n; ++i) v[i] = (bits >> i) & 1;
      std::vector<int> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      const auto got = ApplyScalar(median, v);
      ASSERT_EQ(got[(n - 1) / 2], sorted[(n - 1) / 2]) << n;
      ASSERT_EQ(got[n / 2], sorted[n / 2]) << n;
    }
  }
}

TEST(ExtremesChains, PutTheTrimmedValuesAtBothEnds) {
  for (size_t n = 3; n <= 12; ++n) {
    for (size_t trim = 1; 2 * trim < n; ++trim) {
      const auto net = ExtremesChains(n, trim);
      for (uint32_t bits = 0; bits < (1u << n); ++bits) {
        std::vector<int> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = (bits >> i) & 1;
        std::vector<int> sorted = v;
        std::sort(sorted.begin(), sorted.end());
        const auto got = ApplyScalar(net, v);
        for (size_t r = 0; r < trim; ++r) {
          ASSERT_EQ(got[r], sorted[r]);
          ASSERT_EQ(got[n - 1 - r], sorted[n - 1 - r]);
        }
      }
    }
  }
}

// The vectorized kernels against std::sort on random floats, for sizes
// around the power-of-two boundaries and a dimension with a ragged tail.
TEST(RunOrderStatistic, MatchesSortingEveryCoordinate) {
  Rng rng(11, PeerId(0), RngPurpose::kTest);
  const size_t dim = 70;
  for (size_t n : {1u, 2u, 3u, 5u, 8u, 10u, 17u, 33u, 64u, 100u}) {
    Vectors in = robust_test::GaussianVectors(rng, n, dim, 0.0f, 1.0f);
    std::vector<float> median(dim), trimmed(dim), around(dim);
    const size_t trim = (n - 1) / 3;
    const size_t keep = n - trim;
    RunOrderStatistic(MakeOrderStatisticPlan(OrderStatisticKind::kMedian, n, 0),
                      in.list(), median, nullptr, nullptr);
    RunOrderStatistic(MakeOrderStatisticPlan(OrderStatisticKind::kTrimmedMean, n, trim),
                      in.list(), trimmed, nullptr, nullptr);
    RunOrderStatistic(
        MakeOrderStatisticPlan(OrderStatisticKind::kMeanAroundMedian, n, keep), in.list(),
        around, nullptr, nullptr);
    for (size_t k = 0; k < dim; ++k) {
      std::vector<float> col(n);
      for (size_t i = 0; i < n; ++i) col[i] = in.data[i][k];
      std::sort(col.begin(), col.end());
      const float med =
          n % 2 ? col[n / 2]
                : static_cast<float>(0.5 * (static_cast<double>(col[n / 2 - 1]) + col[n / 2]));
      ASSERT_EQ(median[k], med) << n << " " << k;
      double sum = 0;
      for (size_t r = trim; r < n - trim; ++r) sum += col[r];
      ASSERT_FLOAT_EQ(trimmed[k], static_cast<float>(sum / (n - 2 * trim))) << n;
      // Mean of the `keep` values nearest the median, by brute force.
      const double m = 0.5 * col[(n - 1) / 2] + 0.5 * col[n / 2];
      double best = 1e300, best_sum = 0;
      for (size_t s = 0; s + keep <= n; ++s) {
        const double cost = std::max(m - col[s], col[s + keep - 1] - m);
        if (cost < best) {
          best = cost;
          best_sum = 0;
          for (size_t r = s; r < s + keep; ++r) best_sum += col[r];
        }
      }
      ASSERT_FLOAT_EQ(around[k], static_cast<float>(best_sum / keep)) << n;
    }
  }
}

TEST(RunOrderStatistic, FlagsNonFiniteInputsWhenAsked) {
  Vectors in{{1, 2, 3}, {1, NAN, 3}, {1, 2, 3}, {INFINITY, 0, 0}};
  std::vector<float> out(3);
  FinitenessScan scan;
  RunOrderStatistic(MakeOrderStatisticPlan(OrderStatisticKind::kMedian, 4, 0), in.list(),
                    out, nullptr, &scan);
  EXPECT_THAT(scan.flags, ::testing::ElementsAre(0, 1, 0, 1));
}

}  // namespace
}  // namespace murmur::robust_internal
