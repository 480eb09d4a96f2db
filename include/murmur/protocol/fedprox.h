// FedProx (Li, Sahu, Zaheer, Sanjabi, Talwalkar, Smith, 2020, "Federated
// Optimization in Heterogeneous Networks"). The server is FedAvg's
// (fedavg.h: sample-weighted average of the replies of a random fraction of
// clients per round, through the server optimizer). A FedProx client
// differs from a FedAvg client in two ways:
//  * it minimizes the proximal local objective
//    F_k(w) + mu/2 ||w - w_global||^2 (Learner::SetProximalTerm), which keeps
//    local models near the global one on heterogeneous data;
//  * with a `local_time_budget` it tolerates partial work (the paper's
//    gamma-inexact solutions): it runs as many of its E epochs' steps as fit
//    the budget at the speed it measured on its previous round (host.now()
//    around training; at least one step, the full count on its first round)
//    and sends what it finished instead of being dropped as a straggler.
// With mu = 0 and no budget it is exactly a FedAvg client. Tolerates what
// FedAvg tolerates, plus slow clients (their partial updates still count);
// not Byzantine robust.
#pragma once

#include <cstdint>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/fedavg.h"

namespace murmur {

struct FedProxOptions {
  int64_t local_epochs = 1;
  double mu = 0;                // proximal coefficient
  Duration local_time_budget;   // 0: always the full E epochs
};

// `learner` must outlive the node.
class FedProxClient final : public Node {
 public:
  FedProxClient(Learner& learner, const FedProxOptions& options, PeerId server);

  void OnStart(Host& host) override {}
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override {}
  void OnComputeDone(Host& host, uint64_t tag) override;

  // Steps of the latest local training (for tests and metrics).
  int64_t last_steps() const { return steps_; }

 private:
  void Train(Host& host, Round round, const std::vector<float>& global);

  Learner& learner_;
  const FedProxOptions options_;
  const PeerId server_;
  bool training_ = false;
  double last_loss_ = 0;
  int64_t steps_ = 0;
  SimTime started_;
  double seconds_per_step_ = 0;  // measured on the previous round; 0: unknown
  std::vector<float> pending_global_;
  Round pending_round_;
};

}  // namespace murmur
