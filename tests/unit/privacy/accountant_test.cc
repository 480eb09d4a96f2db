// The RDP accountant against published values of the subsampled Gaussian
// mechanism, the closed form at q = 1, and monotonicity invariants.
#include "murmur/privacy/accountant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace murmur::privacy {
namespace {

// The orders TF Privacy's MNIST tutorial used for its published epsilons:
// 1.1, 1.2, ..., 10.9 and 12 ... 63.
std::vector<double> TutorialOrders() {
  std::vector<double> orders;
  for (int x = 1; x < 100; ++x) orders.push_back(1 + x / 10.0);
  for (int o = 12; o < 64; ++o) orders.push_back(o);
  return orders;
}

struct PublishedCase {
  const char* source;
  double q;
  double sigma;
  int64_t steps;
  double delta;
  RdpConversion conversion;
  double published_epsilon;
};

// Each row: a setting and the epsilon its source printed. The MNIST rows are
// N = 60000, batch 256 (q = 256/60000), steps = epochs * 60000 / 256.
TEST(PrivacyAccountant, MatchesPublishedEpsilonsWithinOnePercent) {
  const double q = 256.0 / 60000;
  const PublishedCase cases[] = {
      // tensorflow/privacy tutorials/README.md, "Select Parameters" table.
      {"TF Privacy MNIST, sigma 1.12, 60 epochs", q, 1.12, 60 * 60000 / 256, 1e-5,
       RdpConversion::kClassic, 2.92},
      {"TF Privacy MNIST, sigma 0.6, 30 epochs", q, 0.6, 30 * 60000 / 256, 1e-5,
       RdpConversion::kClassic, 9.74},
      {"TF Privacy MNIST, sigma 1.2, 10 epochs", q, 1.2, 10 * 60000 / 256, 1e-5,
       RdpConversion::kClassic, 1.20},
  };
  for (const PublishedCase& c : cases) {
    PrivacyAccountant accountant(TutorialOrders());
    ASSERT_TRUE(accountant.ComposeSubsampledGaussian(c.q, c.sigma, c.steps).ok());
    const EpsilonAndOrder got = accountant.Epsilon(c.delta, c.conversion).value();
    EXPECT_NEAR(got.epsilon, c.published_epsilon, 0.01 * c.published_epsilon) << c.source;
  }
}

// tensorflow/privacy rdp_accountant_test.py, test_check_composition: two
// heterogeneous phases, classic conversion, epsilon 8.509656 at order 2.5.
TEST(PrivacyAccountant, HeterogeneousCompositionMatchesTfPrivacy) {
  const double orders[] = {1.25, 1.5, 1.75, 2., 2.5, 3., 4., 5., 6., 7., 8.,
                           10., 12., 14., 16., 20., 24., 28., 32., 64., 256.};
  PrivacyAccountant accountant(orders);
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(1e-4, 0.4, 40000).ok());
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(0.1, 2, 100).ok());
  const EpsilonAndOrder classic = accountant.Epsilon(1e-5, RdpConversion::kClassic).value();
  EXPECT_NEAR(classic.epsilon, 8.509656, 1e-5);
  EXPECT_EQ(classic.order, 2.5);
  EXPECT_LE(accountant.Epsilon(1e-5).value().epsilon, classic.epsilon);
}

// tensorflow/privacy rdp_accountant_test.py,
// test_get_privacy_spent_check_target_delta: sigma = 4.530877117 makes the
// Gaussian mechanism exactly (1, 1e-6)-DP over a fine grid of orders.
TEST(PrivacyAccountant, GaussianCalibratedToEpsilonOneGivesOne) {
  std::vector<double> fine;
  for (int i = 1001; i < 100000; ++i) fine.push_back(0.001 * i);
  PrivacyAccountant accountant(fine);
  ASSERT_TRUE(accountant.ComposeSubsampledGaussian(1, 4.530877117, 1).ok());
  EXPECT_NEAR(accountant.Epsilon(1e-6).value().epsilon, 1.0, 1e-6);
  PrivacyAccountant coarse;  // the default orders lose almost nothing
  ASSERT_TRUE(coarse.ComposeSubsampledGaussian(1, 4.530877117, 1).ok());
  EXPECT_NEAR(coarse.Epsilon(1e-6).value().epsilon, 1.0, 0.01);
}

// tensorflow/privacy rdp_accountant_test.py: constant RDP 1.1 (pure DP)
// over orders 2..32 converts at the largest order to 1.32783806176.
TEST(RdpToEpsilon, ConstantCurvePicksLargestOrder) {
  std::vector<double> orders, rdp;
  for (int o = 2; o <= 32; ++o) {
    orders.push_back(o);
    rdp.push_back(1.1);
  }
  const EpsilonAndOrder got = RdpToEpsilon(orders, rdp, 1e-5).value();
  EXPECT_EQ(got.order, 32);
  EXPECT_NEAR(got.epsilon, 1.32783806176, 1e-9);
  const EpsilonAndOrder classic =
      RdpToEpsilon(orders, rdp, 1e-5, RdpConversion::kClassic).value();
  EXPECT_NEAR(classic.epsilon, 1.1 + std::log(1e5) / 31, 1e-12);
}

// tensorflow/privacy rdp_accountant_test.py: test_compute_rdp_scalar and
// test_compute_rdp_sequence (absolute tolerance 1e-5 as published).
TEST(SubsampledGaussianRdp, MatchesTfPrivacyValues) {
  EXPECT_NEAR(10 * SubsampledGaussianRdp(0.1, 2, 5), 0.07737, 1e-5);
  const double orders[] = {1.5, 2.5, 5, 50, 100};
  const double expected[] = {0.00065, 0.001085, 0.00218075, 0.023846, 167.416307};
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(50 * SubsampledGaussianRdp(0.01, 2.5, orders[k]), expected[k], 1e-5)
        << "order " << orders[k];
  }
}

TEST(SubsampledGaussianRdp, FullSamplingIsTheGaussianClosedForm) {
  for (double sigma : {0.3, 1.0, 2.5, 10.0}) {
    for (double alpha : DefaultRdpOrders()) {
      EXPECT_EQ(SubsampledGaussianRdp(1, sigma, alpha), alpha / (2 * sigma * sigma));
    }
  }
  EXPECT_EQ(SubsampledGaussianRdp(0, 1, 2), 0);
  EXPECT_TRUE(std::isinf(SubsampledGaussianRdp(0.5, 0, 2)));
}

// Fractional orders interpolate their integer neighbours: RDP is
// non-decreasing in alpha, and (alpha - 1) * RDP is convex in alpha, so the
// series and the binomial expansion must agree on the ordering.
TEST(SubsampledGaussianRdp, NonDecreasingInOrderAcrossBothExpansions) {
  for (double q : {1e-3, 0.01, 0.1, 0.5, 0.9}) {
    for (double sigma : {0.5, 0.8, 1.1, 2.0, 5.0}) {
      double previous = 0;
      for (double alpha = 1.25; alpha <= 40; alpha += 0.25) {
        const double rdp = SubsampledGaussianRdp(q, sigma, alpha);
        EXPECT_GE(rdp, previous * (1 - 1e-9)) << "q=" << q << " sigma=" << sigma
                                              << " alpha=" << alpha;
        previous = rdp;
      }
    }
  }
}

// The optimal (epsilon, delta) of the Gaussian mechanism (Balle and Wang,
// 2018, "Improving the Gaussian Mechanism for Differential Privacy",
// Theorem 8): delta(eps) = Phi(1/(2s) - eps s) - e^eps Phi(-1/(2s) - eps s).
// An RDP bound may be loose but never below it.
double ExactGaussianEpsilon(double sigma, double delta) {
  auto phi = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  auto delta_at = [&](double eps) {
    return phi(0.5 / sigma - eps * sigma) - std::exp(eps) * phi(-0.5 / sigma - eps * sigma);
  };
  double lo = 0, hi = 100;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (delta_at(mid) > delta ? lo : hi) = mid;
  }
  return hi;
}

TEST(PrivacyAccountant, NeverBelowTheExactGaussianEpsilon) {
  for (double sigma : {0.5, 1.0, 2.0, 5.0}) {
    for (int64_t steps : {1, 10, 100}) {
      PrivacyAccountant accountant;
      ASSERT_TRUE(accountant.ComposeSubsampledGaussian(1, sigma, steps).ok());
      // T Gaussian steps of sigma are one Gaussian of sigma / sqrt(T).
      const double exact = ExactGaussianEpsilon(sigma / std::sqrt(double(steps)), 1e-5);
      const double eps = accountant.Epsilon(1e-5).value().epsilon;
      EXPECT_GE(eps, exact) << "sigma=" << sigma << " steps=" << steps;
      // And not loose by much where the orders cover the optimum.
      if (exact < 20) EXPECT_LE(eps, 1.5 * exact + 0.5) << "sigma=" << sigma << " steps=" << steps;
    }
  }
}

TEST(PrivacyAccountant, EpsilonGrowsWithStepsAndRateAndShrinksWithNoise) {
  for (double q : {0.001, 0.01, 0.1}) {
    for (double sigma : {0.7, 1.0, 2.0}) {
      double previous = 0;
      for (int64_t steps : {1, 10, 100, 1000, 10000}) {
        PrivacyAccountant a;
        ASSERT_TRUE(a.ComposeSubsampledGaussian(q, sigma, steps).ok());
        const double eps = a.Epsilon(1e-5).value().epsilon;
        EXPECT_GE(eps, previous) << "q=" << q << " sigma=" << sigma << " steps=" << steps;
        previous = eps;
        PrivacyAccountant more_q, more_sigma;
        ASSERT_TRUE(more_q.ComposeSubsampledGaussian(2 * q, sigma, steps).ok());
        ASSERT_TRUE(more_sigma.ComposeSubsampledGaussian(q, 1.5 * sigma, steps).ok());
        EXPECT_GE(more_q.Epsilon(1e-5).value().epsilon, eps);
        EXPECT_LE(more_sigma.Epsilon(1e-5).value().epsilon, eps);
        EXPECT_LE(eps, a.Epsilon(1e-5, RdpConversion::kClassic).value().epsilon);
      }
    }
  }
}

TEST(PrivacyAccountant, RejectsBadArgumentsWithoutChangingState) {
  PrivacyAccountant a;
  EXPECT_EQ(a.ComposeSubsampledGaussian(1.5, 1, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ComposeSubsampledGaussian(0.1, -1, 1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ComposeSubsampledGaussian(0.1, 1, -1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ComposeSubsampledGaussian(NAN, 1, 1).code(), StatusCode::kInvalidArgument);
  for (double r : a.rdp()) EXPECT_EQ(r, 0);
  EXPECT_EQ(a.Epsilon(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Epsilon(1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Epsilon(1e-5).value().epsilon, 0);
}

TEST(SolveSigma, ReachesTheTargetAndNoLessNoise) {
  const double q = 256.0 / 60000;
  for (double target : {1.0, 3.0, 8.0}) {
    const double sigma = SolveSigma(target, q, 14062, 1e-5).value();
    PrivacyAccountant at, below;
    ASSERT_TRUE(at.ComposeSubsampledGaussian(q, sigma, 14062).ok());
    ASSERT_TRUE(below.ComposeSubsampledGaussian(q, sigma * (1 - 1e-5), 14062).ok());
    EXPECT_LE(at.Epsilon(1e-5).value().epsilon, target);
    EXPECT_GT(below.Epsilon(1e-5).value().epsilon, target * (1 - 1e-4));
  }
  EXPECT_EQ(SolveSigma(0, q, 10, 1e-5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SolveSigma(1, 0, 10, 1e-5).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SolveSigma(1, q, 0, 1e-5).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace murmur::privacy
