#include "murmur/robust/kernels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>

#include "robust/eigen.h"
#include "unit/robust/test_util.h"

namespace murmur {
namespace {

using robust_test::Vectors;

double NaiveDot(std::span<const float> a, std::span<const float> b) {
  long double s = 0;
  for (size_t k = 0; k < a.size(); ++k) s += static_cast<long double>(a[k]) * b[k];
  return static_cast<double>(s);
}

TEST(GramMatrix, MatchesNaiveDotProducts) {
  // Odd n (tile edges) and a dimension spanning blocks with a ragged tail.
  Rng rng(1, PeerId(0), RngPurpose::kTest);
  for (size_t n : {1u, 2u, 5u, 7u, 9u}) {
    Vectors in = robust_test::GaussianVectors(rng, n, 1000 + 3, 0.5f, 2.0f);
    const auto gram = GramMatrix(in.list());
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        const double expected = NaiveDot(in.data[i], in.data[j]);
        ASSERT_NEAR(gram[i * n + j], expected, 1e-12 * (1 + std::fabs(expected)))
            << n << " " << i << " " << j;
      }
    }
  }
}

TEST(GramMatrix, DoesNotOverflowForFloatMaxInputs) {
  Vectors in{std::vector<float>(100, FLT_MAX), std::vector<float>(100, -FLT_MAX)};
  const auto gram = GramMatrix(in.list());
  EXPECT_TRUE(std::isfinite(gram[0]));
  EXPECT_DOUBLE_EQ(gram[1], -gram[0]);
}

TEST(SquaredDistancesFromGram, MatchesDirectDistances) {
  Rng rng(2, PeerId(0), RngPurpose::kTest);
  Vectors in = robust_test::GaussianVectors(rng, 6, 333, 3.0f, 1.0f);
  const auto d = SquaredDistancesFromGram(GramMatrix(in.list()), 6);
  for (size_t i = 0; i < 6; ++i) {
    const auto direct = SquaredDistancesTo(in.list(), in.data[i]);
    for (size_t j = 0; j < 6; ++j) {
      ASSERT_NEAR(d[i * 6 + j], direct[j], 1e-9 * (1 + direct[j]));
    }
  }
}

TEST(SquaredNorms, AreSumsOfSquares) {
  Vectors in{{3, 4}, {1, 1, }, {0, 0}};
  in.data[1] = {1, 1};
  in.Refresh();
  EXPECT_THAT(SquaredNorms(in.list()), ::testing::ElementsAre(25, 2, 0));
}

TEST(LinearCombination, CombinesWithCoefficientsAndDivisor) {
  Vectors in{{1, 2, 3}, {10, 20, 30}};
  const double coef[] = {2, 0.5};
  std::vector<float> out(3);
  LinearCombination(in.list(), coef, 2.0, out);
  EXPECT_THAT(out, ::testing::ElementsAre(3.5f, 7.0f, 10.5f));
}

TEST(MeanOf, IsExactForRepeatedValues) {
  Vectors in{{0.1f}, {0.1f}, {0.1f}};
  std::vector<float> out(1);
  MeanOf(in.list(), out);
  EXPECT_EQ(out[0], 0.1f);
}

TEST(HasNonFinite, FlagsNaNAndInfinitiesOnly) {
  EXPECT_FALSE(HasNonFinite(std::vector<float>{0, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN,
                                               FLT_TRUE_MIN, 1e-45f}));
  EXPECT_TRUE(HasNonFinite(std::vector<float>{1, 2, NAN}));
  EXPECT_TRUE(HasNonFinite(std::vector<float>{INFINITY}));
  EXPECT_TRUE(HasNonFinite(std::vector<float>{-INFINITY, 0}));
  EXPECT_FALSE(HasNonFinite(std::vector<float>{}));
}

TEST(FlagNonFinite, FlagsEachBadVector) {
  Vectors in{{1, 2}, {1, NAN}, {3, 4}, {-INFINITY, 0}};
  std::vector<uint8_t> flags(4);
  EXPECT_EQ(FlagNonFinite(in.list(), flags), 2u);
  EXPECT_THAT(flags, ::testing::ElementsAre(0, 1, 0, 1));
}

TEST(SmallestK, BreaksTiesByLowerIndex) {
  const double v[] = {3, 1, 2, 1, 0};
  EXPECT_THAT(SmallestK(v, 3), ::testing::ElementsAre(4, 1, 3));
}

TEST(NearestTo, OrdersByDistance) {
  Vectors in{{5}, {1}, {-2}, {0.5f}};
  const float point[] = {0};
  EXPECT_THAT(NearestTo(in.list(), point, 2), ::testing::ElementsAre(3, 1));
}

TEST(SymmetricEigen, DecomposesASymmetricMatrix) {
  const size_t n = 6;
  Rng rng(4, PeerId(0), RngPurpose::kTest);
  std::vector<double> a(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = rng.Normal();
  }
  std::vector<double> values, vectors;
  robust_internal::SymmetricEigen(a, n, values, vectors);
  for (size_t k = 0; k < n; ++k) {
    if (k > 0) {
      EXPECT_GE(values[k - 1], values[k]);
    }
    for (size_t i = 0; i < n; ++i) {
      double av = 0;
      for (size_t j = 0; j < n; ++j) av += a[i * n + j] * vectors[j * n + k];
      EXPECT_NEAR(av, values[k] * vectors[i * n + k], 1e-10);
    }
  }
}

}  // namespace
}  // namespace murmur
