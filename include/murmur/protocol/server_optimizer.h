// Server-side optimizers for federated learning (Reddi, Charles, Zaheer,
// Garrett, Rush, Konecny, Kumar, McMahan, 2021, "Adaptive Federated
// Optimization", Algorithm 2). A round's aggregate of client models defines
// the pseudo-gradient delta = aggregate - global; the server then steps
//   kReplace:  x = aggregate                      (plain FedAvg, bit-exact)
//   kSgd:      m = b1 m + delta;  x += lr m       (FedAvgM when b1 > 0; Hsu,
//              Qi, Brown, 2019, "Measuring the Effects of Non-Identical Data
//              Distribution for Federated Visual Classification")
//   kAdagrad:  v = v + delta^2
//   kAdam:     v = b2 v + (1 - b2) delta^2
//   kYogi:     v = v - (1 - b2) delta^2 sign(v - delta^2)
//   adaptive:  m = b1 m + (1 - b1) delta;  x += lr m / (sqrt(v) + tau)
// with m starting at 0 and v at tau^2 (the paper's v_{-1} >= tau^2), no bias
// correction (as in the paper). The adaptive rules tolerate heterogeneous
// client data better than FedAvg at a tuned lr; none of them is Byzantine
// robust: a single wild update moves m and v.
//
// Not thread-safe; one per server. Owns its moment buffers (allocated on the
// first Step that needs them).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "murmur/core/snapshot.h"
#include "murmur/core/status.h"

namespace murmur {

enum class ServerOptimizerKind { kReplace, kSgd, kAdagrad, kAdam, kYogi };

struct ServerOptimizerConfig {
  ServerOptimizerKind kind = ServerOptimizerKind::kReplace;
  double lr = 1.0;        // server learning rate eta
  double momentum = 0.0;  // kSgd: b1 (FedAvgM)
  double beta1 = 0.9;     // adaptive rules
  double beta2 = 0.99;    // kAdam, kYogi
  double tau = 1e-3;      // adaptivity: denominator floor and v's start
};

// Parses "fedavg" (kReplace), "sgd", "adagrad", "adam", "yogi".
Result<ServerOptimizerKind> ParseServerOptimizerKind(std::string_view name);

class ServerOptimizer {
 public:
  explicit ServerOptimizer(const ServerOptimizerConfig& config) : config_(config) {}

  // Moves `global` towards `aggregate` by the configured rule.
  // REQUIRES: global.size() == aggregate.size(), the same on every call.
  void Step(std::span<float> global, std::span<const float> aggregate);

  const ServerOptimizerConfig& config() const { return config_; }

  // Snapshots (core/snapshot.h; FedAvgServer's): the moment buffers, empty
  // until the first Step that needs them. Restore: kCorrupt (through the
  // reader) when a buffer is neither empty nor `dimension` floats.
  void Save(SnapshotWriter& out) const;
  void Restore(SnapshotReader& in, size_t dimension);

 private:
  const ServerOptimizerConfig config_;
  std::vector<float> m_;
  std::vector<float> v_;
};

}  // namespace murmur
