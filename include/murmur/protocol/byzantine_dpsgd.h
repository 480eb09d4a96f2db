// A Byzantine D-PSGD peer (attacks and knowledge: protocol/byzantine.h).
// Each round it trains from its model (base) unless it free-rides, waits
// for the round's models of its honest neighbours (or round_timeout after
// training), then sends every honest neighbour a crafted model, possibly a
// different one to each (equivocation), and sets its model to the plain
// mean of its trained model and the honest models it received. It sends
// nothing to, and ignores models from, other Byzantine peers. Reports no
// metrics, so accuracy is measured over honest peers only.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/dpsgd.h"

namespace murmur {

class ByzantineDpsgdNode final : public Node {
 public:
  // `neighbours` sorted; `honest` the sorted subset of them that is not
  // Byzantine. `learner` (poisoned for label-flip and sybil) must outlive
  // the node. REQUIRES: config.attack != kNone.
  ByzantineDpsgdNode(Learner& learner, const DpsgdOptions& options,
                     std::vector<PeerId> neighbours, std::vector<PeerId> honest,
                     const ByzantineConfig& config);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;

  int64_t completed_rounds() const { return round_; }

 private:
  enum class Phase { kTraining, kWaiting, kDone };
  void StartRound(Host& host);
  void AfterTraining(Host& host);
  void AttackIfComplete(Host& host);
  void Attack(Host& host);

  Learner& learner_;
  const DpsgdOptions options_;
  const std::vector<PeerId> neighbours_;
  const std::vector<PeerId> honest_;
  const ByzantineConfig config_;

  Phase phase_ = Phase::kTraining;
  int64_t round_ = 0;
  TimerId timeout_timer_;
  double last_loss_ = 0;
  std::vector<float> base_;        // model at the start of the round
  std::vector<float> round_noise_; // gaussian: one draw per round
  // inbox_[round][honest index] = that neighbour's model.
  std::map<int64_t, std::map<size_t, std::vector<float>>> inbox_;
};

}  // namespace murmur
