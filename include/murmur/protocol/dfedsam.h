// DFedSAM and DFedSAM-MGS (Shi, Shen, Li, Tao, et al., 2023, "Improving the
// Model Consistency of Decentralized Federated Learning", ICML). Each
// synchronous round a peer takes `local_steps` sharpness-aware (SAM) SGD
// steps on its data (its Learner is configured with sam_rho > 0: the
// gradient is taken at w + rho g/||g||), then runs `gossip_steps` (Q)
// rounds of gossip averaging with its neighbours under Metropolis-Hastings
// weights before the next round. Q = 1 is DFedSAM; Q > 1 is DFedSAM-MGS
// (multiple gossip steps), which the paper shows tightens model
// consistency at Q times the communication.
//
// Fault semantics (as D-PSGD, per gossip step): a neighbour whose model for
// a gossip step has not arrived `round_timeout` after this peer sent its own
// is skipped for that step and its weight goes to the peer itself; models
// for the next RoundBarrierOptions::window steps are buffered, older ones
// ignored (protocol/round_barrier.h). Tolerates crashed,
// offline and slow peers and lost messages; not Byzantine robust.
//
// A runtime peer that persists its state (`murmur peer --persist-every`)
// persists by round (PersistMode::kByRound), as D-PSGD: between rounds its
// state is its learner's (the SAM steps keep none of their own) and its
// round, from which its gossip step follows (round x Q). Resumed, it starts
// at the saved round (DfedsamOptions::start_round) and does not wait for a
// neighbour two or more gossip steps ahead (DfedsamOptions::resumable: in
// lock step a neighbour is at most one ahead).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/round_barrier.h"
#include "murmur/protocol/topology.h"

namespace murmur {

// Built by MakeProtocol from ProtocolConfig, which holds the defaults.
struct DfedsamOptions {
  int64_t rounds = 0;
  int64_t local_steps = 0;
  int64_t gossip_steps = 1;  // Q
  Duration round_timeout;    // per gossip step; 0: wait forever
  // The rounds completed before this node starts (a peer resumed from its
  // persisted state): it reports its model for this round, trains round
  // start_round + 1 and gossips that round's steps.
  // REQUIRES 0 <= start_round <= rounds.
  int64_t start_round = 0;
  // This peer persists its state: it does not wait for a neighbour two or
  // more gossip steps ahead (RoundBarrierOptions::skip_senders_ahead).
  bool resumable = false;
};

// One peer. `learner` must outlive the node and should have sam_rho > 0.
class DfedsamNode final : public Node {
 public:
  // `neighbours` (sorted) and `neighbour_weights` are aligned; `self_weight`
  // plus the neighbour weights sum to 1.
  DfedsamNode(Learner& learner, const DfedsamOptions& options, std::vector<PeerId> neighbours,
              std::vector<double> neighbour_weights, double self_weight);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  // A sender declared down is not waited for until it sends again
  // (round_barrier.h).
  void OnPeerDown(Host& host, PeerId peer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // A runtime peer persists by round (see above).
  PersistMode persist_mode() const override { return PersistMode::kByRound; }

  int64_t completed_rounds() const { return round_.value; }
  int64_t completed_gossip_steps() const { return step_.value; }

 private:
  enum class Phase { kTraining, kGossiping, kDone };
  void StartRound(Host& host);
  void SendStep(Host& host);
  void MixIfComplete(Host& host);
  void Mix(Host& host);

  Learner& learner_;
  const DfedsamOptions options_;
  const std::vector<PeerId> neighbours_;
  const std::vector<double> neighbour_weights_;
  const double self_weight_;

  Phase phase_ = Phase::kTraining;
  Round round_;  // rounds completed
  Round step_;  // gossip steps completed, over the whole run
  double last_loss_ = 0;
  // The neighbours' models by gossip step (the barrier's rounds).
  RoundBarrier barrier_;
};

// protocol.kind = "dfedsam": its keys (docs/config.md), read by its spec
// (dfedsam_spec.cc).
struct DfedsamConfig {
  TopologyConfig topology;
  int64_t gossip_steps = 1;  // protocol.gossip_steps: Q (> 1: DFedSAM-MGS)
};

}  // namespace murmur
