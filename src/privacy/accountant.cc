#include "murmur/privacy/accountant.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace murmur::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)) without overflow.
double LogAdd(double a, double b) {
  const double hi = std::max(a, b);
  const double lo = std::min(a, b);
  if (hi == -kInf) return -kInf;
  return hi + std::log1p(std::exp(lo - hi));
}

// log(exp(a) - exp(b)); -inf when the difference is not positive (the
// series' partial sums are positive, so this only absorbs rounding).
double LogSub(double a, double b) {
  if (b == -kInf) return a;
  if (b >= a) return -kInf;
  return a + std::log1p(-std::exp(b - a));
}

// log(erfc(x)); an asymptotic expansion where erfc underflows.
double LogErfc(double x) {
  const double r = std::erfc(x);
  if (r > 0) return std::log(r);
  const double x2 = x * x;
  return -0.5 * std::log(M_PI) - std::log(x) - x2 - 0.5 / x2 +
         0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2) +
         353.0 / 64.0 / (x2 * x2 * x2 * x2);
}

// log A_alpha for integer alpha: A_alpha = sum_i C(alpha, i) q^i (1-q)^(alpha-i)
// exp((i^2 - i) / (2 sigma^2)) (Mironov et al. 2019, Section 3.3).
double LogAInteger(double q, double sigma, int64_t alpha) {
  double log_a = -kInf;
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  for (int64_t i = 0; i <= alpha; ++i) {
    const double di = static_cast<double>(i);
    const double log_coef = std::lgamma(alpha + 1.0) - std::lgamma(di + 1.0) -
                            std::lgamma(alpha - di + 1.0);
    const double term = log_coef + di * log_q + (alpha - di) * log_1mq +
                        (di * di - di) / (2 * sigma * sigma);
    log_a = LogAdd(log_a, term);
  }
  return log_a;
}

// log A_alpha for fractional alpha: the two series of Mironov et al. 2019,
// Section 3.4, split at z0 where the two Gaussians' densities weighted by q
// and 1-q cross. The generalized binomial coefficients alternate in sign once
// i > alpha; their magnitude is tracked in log space.
double LogAFractional(double q, double sigma, double alpha) {
  double log_a0 = -kInf;
  double log_a1 = -kInf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  const double log_q = std::log(q);
  const double log_1mq = std::log1p(-q);
  const double two_s2 = 2 * sigma * sigma;
  const double sqrt2_sigma = std::sqrt(2.0) * sigma;
  double log_coef = 0;  // log |C(alpha, 0)|
  bool coef_positive = true;
  for (int64_t i = 0;; ++i) {
    const double di = static_cast<double>(i);
    const double j = alpha - di;
    const double log_t0 = log_coef + di * log_q + j * log_1mq;
    const double log_t1 = log_coef + j * log_q + di * log_1mq;
    const double log_e0 = std::log(0.5) + LogErfc((di - z0) / sqrt2_sigma);
    const double log_e1 = std::log(0.5) + LogErfc((z0 - j) / sqrt2_sigma);
    const double log_s0 = log_t0 + (di * di - di) / two_s2 + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / two_s2 + log_e1;
    if (coef_positive) {
      log_a0 = LogAdd(log_a0, log_s0);
      log_a1 = LogAdd(log_a1, log_s1);
    } else {
      log_a0 = LogSub(log_a0, log_s0);
      log_a1 = LogSub(log_a1, log_s1);
    }
    if (std::max(log_s0, log_s1) < -30 && di > alpha) break;
    if (i > 100000) break;  // unreachable for sane inputs; bounds the loop
    // C(alpha, i+1) = C(alpha, i) * (alpha - i) / (i + 1).
    if (j == 0) break;  // integer alpha handled elsewhere; defensive
    log_coef += std::log(std::abs(j)) - std::log(di + 1);
    if (j < 0) coef_positive = !coef_positive;
  }
  return LogAdd(log_a0, log_a1);
}

bool IsInteger(double x) { return std::floor(x) == x; }

constexpr std::array<double, 73> kDefaultOrders = [] {
  std::array<double, 73> orders{};
  constexpr double kSmall[] = {1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5};
  size_t n = 0;
  for (double o : kSmall) orders[n++] = o;
  for (int o = 5; o <= 64; ++o) orders[n++] = o;
  orders[n++] = 128;
  orders[n++] = 256;
  orders[n++] = 512;
  return orders;
}();

double EpsilonAtOrder(double alpha, double rdp, double delta,
                      RdpConversion conversion) {
  if (std::isinf(rdp)) return kInf;
  if (conversion == RdpConversion::kClassic) {
    return std::max(0.0, rdp + std::log(1 / delta) / (alpha - 1));
  }
  // When delta^2 >= 1 - exp(-rdp), rdp bounds the KL divergence and Pinsker
  // gives total variation <= delta: (0, delta)-DP.
  if (delta * delta + std::expm1(-rdp) > 0) return 0;
  // The bound is numerically unstable as alpha -> 1, and useless there.
  if (alpha <= 1.01) return kInf;
  const double eps = rdp + std::log1p(-1 / alpha) -
                     std::log(delta * alpha) / (alpha - 1);
  return std::max(0.0, eps);
}

}  // namespace

std::span<const double> DefaultRdpOrders() { return kDefaultOrders; }

double SubsampledGaussianRdp(double q, double sigma, double alpha) {
  MURMUR_CHECK(q >= 0 && q <= 1 && sigma >= 0 && alpha > 1);
  MURMUR_CHECK(std::isfinite(alpha) && std::isfinite(sigma));
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1) return alpha / (2 * sigma * sigma);
  const double log_a = IsInteger(alpha)
                           ? LogAInteger(q, sigma, static_cast<int64_t>(alpha))
                           : LogAFractional(q, sigma, alpha);
  // A_alpha >= 1 mathematically; rounding may dip below.
  return std::max(0.0, log_a / (alpha - 1));
}

PrivacyAccountant::PrivacyAccountant(std::span<const double> orders)
    : orders_(orders.begin(), orders.end()), rdp_(orders.size(), 0.0) {
  MURMUR_CHECK(!orders_.empty());
  for (double o : orders_) MURMUR_CHECK(o > 1 && std::isfinite(o));
}

Status PrivacyAccountant::ComposeSubsampledGaussian(double q, double sigma,
                                                    int64_t steps) {
  if (!(q >= 0 && q <= 1)) {
    return Status::InvalidArgument("sampling rate q=", q, " must lie in [0, 1]");
  }
  if (!(sigma >= 0) || !std::isfinite(sigma)) {
    return Status::InvalidArgument("noise multiplier sigma=", sigma,
                                   " must be finite and >= 0");
  }
  if (steps < 0) {
    return Status::InvalidArgument("steps=", steps, " must be >= 0");
  }
  if (steps == 0) return Status::Ok();
  for (size_t k = 0; k < orders_.size(); ++k) {
    rdp_[k] += static_cast<double>(steps) *
               SubsampledGaussianRdp(q, sigma, orders_[k]);
  }
  return Status::Ok();
}

Result<EpsilonAndOrder> PrivacyAccountant::Epsilon(
    double delta, RdpConversion conversion) const {
  return RdpToEpsilon(orders_, rdp_, delta, conversion);
}

Result<EpsilonAndOrder> RdpToEpsilon(std::span<const double> orders,
                                     std::span<const double> rdp, double delta,
                                     RdpConversion conversion) {
  if (!(delta > 0 && delta < 1)) {
    return Status::InvalidArgument("delta=", delta, " must lie in (0, 1)");
  }
  if (orders.empty() || orders.size() != rdp.size()) {
    return Status::InvalidArgument("RDP curve of ", rdp.size(), " values at ",
                                   orders.size(), " orders");
  }
  EpsilonAndOrder best{.epsilon = kInf, .order = orders[0]};
  for (size_t k = 0; k < orders.size(); ++k) {
    const double eps = EpsilonAtOrder(orders[k], rdp[k], delta, conversion);
    if (eps < best.epsilon) best = {.epsilon = eps, .order = orders[k]};
  }
  return best;
}

Result<double> SolveSigma(double target_epsilon, double q, int64_t steps,
                          double delta, RdpConversion conversion) {
  if (!(target_epsilon > 0) || !std::isfinite(target_epsilon)) {
    return Status::InvalidArgument("target epsilon=", target_epsilon,
                                   " must be finite and > 0");
  }
  if (!(q > 0 && q <= 1)) {
    return Status::InvalidArgument("sampling rate q=", q, " must lie in (0, 1]");
  }
  if (steps < 1) return Status::InvalidArgument("steps=", steps, " must be >= 1");
  if (!(delta > 0 && delta < 1)) {
    return Status::InvalidArgument("delta=", delta, " must lie in (0, 1)");
  }
  auto epsilon_at = [&](double sigma) {
    PrivacyAccountant accountant;
    MURMUR_CHECK(accountant.ComposeSubsampledGaussian(q, sigma, steps).ok());
    return accountant.Epsilon(delta, conversion).value().epsilon;
  };
  constexpr double kMaxSigma = 1e6;
  double hi = 1.0;
  while (epsilon_at(hi) > target_epsilon) {
    hi *= 2;
    if (hi > kMaxSigma) {
      return Status::NotFound("no noise multiplier up to ", kMaxSigma,
                              " reaches epsilon=", target_epsilon, " at delta=",
                              delta, " over ", steps, " steps at q=", q);
    }
  }
  double lo = hi / 2;
  while (lo > 1e-6 && epsilon_at(lo) <= target_epsilon) {
    hi = lo;
    lo /= 2;
  }
  // Invariant: epsilon(hi) <= target < epsilon(lo) (or lo is tiny).
  while (hi - lo > 1e-6 * hi) {
    const double mid = 0.5 * (lo + hi);
    (epsilon_at(mid) <= target_epsilon ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace murmur::privacy
