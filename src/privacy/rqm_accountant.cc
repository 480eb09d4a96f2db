#include "murmur/privacy/rqm_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "murmur/core/check.h"
#include "murmur/privacy/accountant.h"

namespace murmur::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The sum over one side's candidate levels, e.g. sum_h P(h) (B(h) - x) /
// (B(h) - B(j)), with P(h) = k(h) (1-p)^(distance from the cell). Every
// factor is at most 1, so the terms from distance K on add at most
// (1-p)^K / p: the loop stops once that is below 2^-64 of the sum, which
// changes nothing at double precision but keeps small p and large m from
// costing m^2 when the weights have long vanished.
template <typename Term>
double SideSum(uint32_t count, double one_minus_p, double p, Term term) {
  double sum = 0;
  double weight = 1;  // (1-p)^k
  for (uint32_t k = 0; k < count; ++k) {
    sum += weight * term(k);
    weight *= one_minus_p;
    if (weight == 0 || weight < 0x1p-64 * p * sum) break;
  }
  return sum;
}

}  // namespace

std::vector<double> RqmOutputLogProbabilities(const RqmConfig& config, double x) {
  MURMUR_CHECK(Validate(config).ok());
  x = std::isfinite(x) ? std::clamp(x, -config.clip, config.clip) : 0.0;
  const uint32_t m = config.levels;
  const double p = config.keep_probability;
  const double one_minus_p = 1 - p;
  const double log_1mp = std::log1p(-p);  // -inf at p = 1
  // The same cell as RqmEncode's EncodeOne.
  const double step = 2 * config.delta / (m - 1);
  const uint32_t c = std::min(static_cast<uint32_t>(std::floor((x + config.delta) / step)), m - 2);
  auto level = [&](uint32_t j) { return RqmLevel(config, j); };
  auto keep = [&](uint32_t j) { return j == 0 || j == m - 1 ? 1.0 : p; };
  // (1-p)^k as a logarithm, with 0^0 = 1.
  auto log_miss = [&](uint32_t k) { return k == 0 ? 0.0 : k * log_1mp; };
  std::vector<double> out(m, -kInf);
  for (uint32_t j = 0; j <= c; ++j) {
    // j is the lower kept level; h = c + 1 + k is the upper one.
    const double s = SideSum(m - 1 - c, one_minus_p, p, [&](uint32_t k) {
      const uint32_t h = c + 1 + k;
      return keep(h) * (level(h) - x) / (level(h) - level(j));
    });
    out[j] = s > 0 ? std::log(keep(j)) + log_miss(c - j) + std::log(s) : -kInf;
  }
  for (uint32_t j = c + 1; j < m; ++j) {
    // j is the upper kept level; l = c - k is the lower one.
    const double s = SideSum(c + 1, one_minus_p, p, [&](uint32_t k) {
      const uint32_t l = c - k;
      return keep(l) * (x - level(l)) / (level(j) - level(l));
    });
    out[j] = s > 0 ? std::log(keep(j)) + log_miss(j - c - 1) + std::log(s) : -kInf;
  }
  return out;
}

std::vector<double> RqmOutputDistribution(const RqmConfig& config, double x) {
  std::vector<double> p = RqmOutputLogProbabilities(config, x);
  for (double& v : p) v = std::exp(v);
  return p;
}

double RenyiDivergenceOfLogs(std::span<const double> log_p, std::span<const double> log_q,
                             double alpha) {
  MURMUR_CHECK(log_p.size() == log_q.size() && alpha > 1);
  // log sum_j exp(alpha log p_j + (1 - alpha) log q_j), stably.
  std::vector<double> terms;
  terms.reserve(log_p.size());
  for (size_t j = 0; j < log_p.size(); ++j) {
    if (log_p[j] == -kInf) continue;
    if (log_q[j] == -kInf) return kInf;
    terms.push_back(alpha * log_p[j] + (1 - alpha) * log_q[j]);
  }
  if (terms.empty()) return 0;
  const double top = *std::max_element(terms.begin(), terms.end());
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  // Equal distributions give log(1) up to rounding; the divergence is >= 0.
  return std::max(0.0, (top + std::log(sum)) / (alpha - 1));
}

std::vector<double> RqmCoordinateRdpCurve(const RqmConfig& config,
                                          std::span<const double> orders) {
  const std::vector<double> high = RqmOutputLogProbabilities(config, config.clip);
  const std::vector<double> low = RqmOutputLogProbabilities(config, -config.clip);
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  for (double alpha : orders) rdp.push_back(RenyiDivergenceOfLogs(high, low, alpha));
  return rdp;
}

double RqmCoordinateRdp(const RqmConfig& config, double alpha) {
  const double orders[] = {alpha};
  return RqmCoordinateRdpCurve(config, orders)[0];
}

Status PrivacyAccountant::ComposeRqm(const RqmConfig& config, int64_t dimension,
                                     int64_t releases) {
  MURMUR_RETURN_IF_ERROR(Validate(config));
  if (dimension < 1) return Status::InvalidArgument("rqm: dimension=", dimension, " must be >= 1");
  if (releases < 0) return Status::InvalidArgument("rqm: releases=", releases, " must be >= 0");
  if (releases == 0) return Status::Ok();
  const std::vector<double> per_coordinate = RqmCoordinateRdpCurve(config, orders_);
  const double times = static_cast<double>(dimension) * static_cast<double>(releases);
  for (size_t k = 0; k < orders_.size(); ++k) rdp_[k] += times * per_coordinate[k];
  return Status::Ok();
}

}  // namespace murmur::privacy
