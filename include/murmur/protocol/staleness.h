// Staleness functions s(t - tau) of asynchronous federated optimization
// (Xie, Koyejo, Gupta, 2019, "Asynchronous Federated Optimization", section
// 5.2): how much an update computed from a model `staleness` server versions
// old still counts.
//   kConstant:   s = 1
//   kPolynomial: s = (staleness + 1)^(-a)   (a = 0.5: FedBuff's 1/sqrt(1+s))
//   kHinge:      s = 1 when staleness <= b, else 1 / (a (staleness - b) + 1)
#pragma once

#include <cstdint>
#include <string_view>

#include "murmur/core/status.h"

namespace murmur {

enum class StalenessKind { kConstant, kPolynomial, kHinge };

struct StalenessConfig {
  StalenessKind kind = StalenessKind::kPolynomial;
  double a = 0.5;
  int64_t b = 4;
};

// Parses "constant", "polynomial", "hinge".
Result<StalenessKind> ParseStalenessKind(std::string_view name);

// Returns s(staleness) in (0, 1]. REQUIRES: staleness >= 0, a >= 0, b >= 0.
double StalenessWeight(const StalenessConfig& config, int64_t staleness);

}  // namespace murmur
