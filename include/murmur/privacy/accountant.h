// Rényi differential privacy accountant for the Poisson-subsampled Gaussian
// mechanism (and, through ComposeRqm, the randomized quantization mechanism
// of rqm_accountant.h): the privacy cost of DP-SGD (Abadi et al. 2016) and of
// client-level DP federated averaging (McMahan et al. 2018).
//
//  * RDP and its composition: Mironov, 2017, "Rényi Differential Privacy".
//    RDP of order alpha composes by addition, so T steps cost T * rdp(alpha)
//    and heterogeneous steps cost the sum of their rdp(alpha).
//  * RDP of the sampled Gaussian mechanism: Mironov, Talwar, Zhang, 2019,
//    "Rényi Differential Privacy of the Sampled Gaussian Mechanism". Each
//    record (example, or client) is included independently with probability
//    q, the query has L2 sensitivity 1 and the noise has standard deviation
//    sigma (the noise multiplier). Integer orders use the exact binomial
//    expansion of A_alpha in log space (their Section 3.3); fractional orders
//    the two-sided series of their Section 3.4. Both are exact up to
//    floating-point rounding and the series' truncation at terms below
//    e^-30 of the sum, so the epsilon reported is never below the true RDP
//    bound by more than that rounding.
//  * Conversion to (epsilon, delta): by default the bound of Balle, Barthe,
//    Gaboardi, Hsu, Sato, 2020, "Hypothesis Testing Interpretations and Renyi
//    Differential Privacy" (Theorem 21; the same bound is Proposition 12 of
//    Canonne, Kamath, Steinke, 2020, "The Discrete Gaussian for Differential
//    Privacy"): eps = rdp + log((alpha-1)/alpha) - (log delta + log alpha) /
//    (alpha - 1). It is never larger than the classic conversion of Mironov
//    2017 (Proposition 3), eps = rdp + log(1/delta)/(alpha-1), which is
//    available for comparing with older published values.
//
// Assumptions the guarantee rests on (docs/privacy.md): Poisson sampling
// with rate q (sampling a fixed-size batch without replacement or shuffling
// is a different mechanism, often reported with this accountant anyway); the
// clipping norm bounds every record's contribution; the noise is Gaussian
// with standard deviation sigma * clip added to the sum; neighbouring data
// sets differ by adding or removing one record.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/compress/rqm.h"
#include "murmur/core/status.h"

namespace murmur::privacy {

// The orders alpha the accountant tracks unless told otherwise: 1.25 ...
// 4.5 in small steps, every integer 5 ... 64, and 128, 256, 512 (the list of
// TF Privacy's compute_dp_sgd_privacy, plus 64).
std::span<const double> DefaultRdpOrders();

// RDP of order `alpha` of one step of the Poisson-subsampled Gaussian
// mechanism with sampling rate `q` and noise multiplier `sigma`. Returns 0
// for q == 0, alpha / (2 sigma^2) exactly for q == 1, and +infinity for
// sigma == 0 (with q > 0).
// REQUIRES: 0 <= q <= 1, sigma >= 0, alpha > 1, all finite.
double SubsampledGaussianRdp(double q, double sigma, double alpha);

enum class RdpConversion {
  kBalle2020,  // Balle et al. 2020 Theorem 21 (default; tighter)
  kClassic,    // Mironov 2017 Proposition 3
};

struct EpsilonAndOrder {
  double epsilon = 0;
  double order = 0;  // the alpha at which the minimum was attained
};

// Accumulates the RDP of a sequence of mechanisms at a fixed list of orders
// and converts it to (epsilon, delta). A value type; thread-compatible.
class PrivacyAccountant {
 public:
  // REQUIRES: every order > 1 and finite; at least one order.
  explicit PrivacyAccountant(
      std::span<const double> orders = DefaultRdpOrders());

  // Adds `steps` steps of the subsampled Gaussian mechanism. Steps with
  // different (q, sigma) compose by calling this once per kind.
  // kInvalidArgument (and no change) for q outside [0, 1], sigma < 0,
  // steps < 0 or a non-finite value.
  Status ComposeSubsampledGaussian(double q, double sigma, int64_t steps);

  // Adds `releases` releases of RQM (rqm_accountant.h) on `dimension`
  // coordinates each: releases * dimension * RqmCoordinateRdp at every
  // order. kInvalidArgument (and no change) for a config Validate refuses,
  // dimension < 1 or releases < 0. Implemented in rqm_accountant.cc.
  Status ComposeRqm(const RqmConfig& config, int64_t dimension, int64_t releases);

  // The smallest epsilon over the orders such that the composition so far is
  // (epsilon, delta)-DP, and the order attaining it (the first such order on
  // ties). +infinity when no order gives a finite bound. kInvalidArgument
  // unless 0 < delta < 1.
  Result<EpsilonAndOrder> Epsilon(
      double delta, RdpConversion conversion = RdpConversion::kBalle2020) const;

  std::span<const double> orders() const { return orders_; }
  // The accumulated RDP, one value per order.
  std::span<const double> rdp() const { return rdp_; }

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;
};

// Epsilon of one RDP curve (rdp[i] at orders[i]) at `delta`.
// kInvalidArgument unless 0 < delta < 1 and the spans have equal, non-zero
// size.
Result<EpsilonAndOrder> RdpToEpsilon(
    std::span<const double> orders, std::span<const double> rdp, double delta,
    RdpConversion conversion = RdpConversion::kBalle2020);

// The smallest noise multiplier sigma (to a relative precision of 1e-6, never
// below it) for which `steps` steps at sampling rate q are
// (target_epsilon, delta)-DP over the default orders; bisection, as epsilon
// decreases with sigma. kInvalidArgument for target_epsilon <= 0, q outside
// (0, 1], steps < 1 or delta outside (0, 1); kNotFound when even sigma = 1e6
// does not reach the target.
Result<double> SolveSigma(double target_epsilon, double q, int64_t steps,
                          double delta,
                          RdpConversion conversion = RdpConversion::kBalle2020);

}  // namespace murmur::privacy
