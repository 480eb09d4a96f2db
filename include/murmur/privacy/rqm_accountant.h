// The Rényi DP of the randomized quantization mechanism, RQM (Youn, Hu,
// Ziani, Abernethy, 2023, "Randomized Quantization is All You Need for
// Differential Privacy in Federated Learning"; the mechanism is
// compress/rqm.h), computed exactly rather than bounded.
//
// One coordinate's output is a distribution over the m levels B(0..m-1).
// Let x lie in the cell [B(c), B(c+1)) (the cell RqmEncode uses). The
// encoder rounds x between the nearest kept level at or below c, l, and the
// nearest kept level above, h. Interior levels are kept independently with
// probability p (the endpoints always), so l and h are independent:
//   P(l) = k(l) (1-p)^(c-l),  P(h) = k(h) (1-p)^(h-c-1),  k = 1 at an
//   endpoint and p inside,
// and the output is h with probability (x - B(l)) / (B(h) - B(l)). Hence
//   P(out = j) = P(l = j) sum_h P(h) (B(h) - x) / (B(h) - B(j))   (j <= c)
//   P(out = j) = P(h = j) sum_l P(l) (x - B(l)) / (B(j) - B(l))   (j > c),
// O(m^2) per input instead of the 2^(m-2) subsets (tests/unit/privacy/
// rqm_accountant_test.cc checks it against that enumeration, and against
// RqmEncodeIndices' draws). Each P(out = j) is kept as a logarithm: the
// factor (1-p)^k is exact in log space and the sum is O(1/m) at least, so
// far levels whose probability underflows a double still count.
//
// Per coordinate, the RDP of order alpha is the Rényi divergence between
// the outputs of the two extreme inputs, D_alpha(P(clip) || P(-clip)) (equal
// to the reverse one by the mirror symmetry of the levels). That this pair
// is the worst over [-clip, clip]^2 is not proven here: the paper computes
// the mechanism's RDP numerically, and the text of it available to us (the
// arXiv v1 abstract and introduction) does not state which pair it uses;
// RqmAccountant.ExtremeInputsAreTheWorstPairOnAGrid checks the extremes
// against every pair of a 41-point grid at several (m, p, delta, alpha) and
// finds no larger divergence. A release of d coordinates, each clamped to
// [-clip, clip] independently, composes as d coordinates (d times the RDP:
// neighbouring clients may differ in every coordinate), and releases
// compose by addition (Mironov 2017), converted to (epsilon, delta) as for
// the Gaussian (accountant.h). p = 1 is plain stochastic rounding: inputs in
// different cells have disjoint supports, so the RDP is infinite.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/compress/rqm.h"

namespace murmur::privacy {

// log P(out = j) for j = 0 .. m-1 for one coordinate with input x (clamped
// to [-clip, clip] and non-finite read as 0, as RqmEncodeIndices does);
// -infinity where the probability is 0. REQUIRES: Validate(config).ok().
std::vector<double> RqmOutputLogProbabilities(const RqmConfig& config, double x);

// exp of RqmOutputLogProbabilities.
std::vector<double> RqmOutputDistribution(const RqmConfig& config, double x);

// D_alpha(P || Q) = log(sum_j P_j^alpha Q_j^(1-alpha)) / (alpha - 1) of two
// distributions given as log-probabilities over the same outcomes;
// +infinity where some Q_j = 0 < P_j. REQUIRES: equal sizes, alpha > 1.
double RenyiDivergenceOfLogs(std::span<const double> log_p, std::span<const double> log_q,
                             double alpha);

// The RDP of order alpha of RQM on one coordinate: D_alpha between the
// outputs of inputs clip and -clip (see above). REQUIRES: Validate(config)
// .ok(), alpha > 1.
double RqmCoordinateRdp(const RqmConfig& config, double alpha);

// RqmCoordinateRdp at every order of `orders`, both extreme distributions
// computed once.
std::vector<double> RqmCoordinateRdpCurve(const RqmConfig& config,
                                          std::span<const double> orders);

}  // namespace murmur::privacy
