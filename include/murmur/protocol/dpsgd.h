// Decentralized parallel SGD (Lian, Zhang, Zhang, Hsieh, Zhang, Liu, 2017,
// "Can Decentralized Algorithms Outperform Centralized Algorithms? A Case
// Study for Decentralized Parallel Stochastic Gradient Descent"), in the
// adapt-then-combine form most implementations use: each synchronous round a
// peer takes `local_steps` SGD steps, sends its model to its neighbours, and
// replaces it with the Metropolis-Hastings weighted average of its own and
// its neighbours' models.
//
// Fault semantics: a neighbour whose model has not arrived `round_timeout`
// after this peer finished training is skipped for that round and its mixing
// weight goes to the peer itself (rows stay stochastic), so offline peers and
// lost messages never deadlock a round. A neighbour the failure detector
// declares down (OnPeerDown) is not waited for at all until it sends again,
// so one crash does not cost every later round a timeout. A peer that
// restarted or fell behind catches up: once its neighbours' models for a
// round two or more ahead are in (round_barrier.h), it adopts their average
// (or their robust aggregate) as its model and rejoins them at that round
// ("dpsgd.catch_ups"), instead of replaying every round it missed: over the
// real runtime a restarted peer is at the others' round after 1 or 2 rounds
// of its own (tests/runtime/peer_churn_test.cc). A runtime peer that
// persists its state (`murmur peer --persist-every`) resumes at the round
// it saved (DpsgdOptions::start_round) and, since its neighbours may have
// resumed at other rounds, does not wait for one already two rounds ahead
// (DpsgdOptions::resumable). Models for the next
// RoundBarrierOptions::window rounds are buffered, later ones dropped (so a
// neighbour cannot grow a peer's memory without bound); models for finished
// rounds, duplicates and models from non-senders are ignored and counted
// (protocol/round_barrier.h). Tolerates crash faults, not
// Byzantine ones with the default average; with a robust rule (the run's
// [robust] table, protocol/model_combiner.h) a peer instead combines its own
// model and the received ones with that rule, its own model being the
// reference; a round whose inputs fail the rule's precondition (e.g. too
// many neighbours timed out) keeps the peer's own model and is counted as
// "robust.failed_aggregations".
//
// SybilWall (robust.rule = "sybilwall", protocol/sybilwall.h): after sending
// its model each round, a peer also sends every neighbour one update-history
// record (a second model-sized message), and mixes its own model and the
// arrived ones with the weights of robust/sybilwall.h instead of
// Metropolis-Hastings.
//
// Bristle (protocol/bristle_combiner.h): with a BristleCombiner a peer
// exchanges only its output layer and merges its neighbours' output layers
// by Bristle's prioritizer and integrator instead of the average or rule.
//
// Communication schedule (comm_schedule.h): with CommSchedule::kLate only
// the last `comm_budget` rounds exchange models; the others train locally
// and send nothing. With `final_merge` the last round is a global merge:
// every peer sends its model to every peer and takes the plain average of
// all of them (whatever arrived by the timeout).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/bristle_combiner.h"
#include "murmur/protocol/comm_schedule.h"
#include "murmur/protocol/dp_release.h"
#include "murmur/protocol/model_combiner.h"
#include "murmur/protocol/round_barrier.h"
#include "murmur/protocol/sybilwall.h"
#include "murmur/protocol/topology.h"

namespace murmur {

// Built by MakeProtocol from ProtocolConfig, which holds the defaults.
struct DpsgdOptions {
  int64_t rounds = 0;
  int64_t local_steps = 0;
  Duration round_timeout;  // 0: wait forever
  CommSchedule schedule = CommSchedule::kEveryRound;
  int64_t comm_budget = 0;  // kLate: communicating rounds at the end
  bool final_merge = false;
  int64_t num_peers = 0;    // the run's peers 0..num_peers-1 (final merge, SybilWall origins)
  // The part of the parameter buffer peers exchange and mix,
  // [exchange_offset, exchange_offset + exchange_size); size 0: all of it.
  // With a frozen body (Learner::SetTrainableRange) only the trained output
  // layer travels and the body stays as loaded.
  int64_t exchange_offset = 0;
  int64_t exchange_size = 0;
  // [privacy] kLocal: every round's message is a DpRelease (dp_release.h)
  // of the whole model; kNone: the model as it is.
  privacy::DpConfig dp;
  // The rounds completed before this node starts (a peer restored from its
  // persisted state, experiment/peer_state.h): it reports its model for
  // this round, trains round start_round + 1 and collects that round's
  // models. REQUIRES 0 <= start_round <= rounds.
  int64_t start_round = 0;
  // This peer persists its state (`murmur peer --persist-every`): after a
  // restart of the whole run its neighbours may resume from other rounds,
  // so it does not wait for a neighbour two or more rounds ahead
  // (RoundBarrierOptions::skip_senders_ahead).
  bool resumable = false;
};

// The exchanged span of `params` under `options`.
std::span<float> ExchangedParams(const DpsgdOptions& options, std::span<float> params);

// One peer. `learner` must outlive the node.
class DpsgdNode final : public Node {
 public:
  // `neighbours` and `neighbour_weights` are aligned; `self_weight` plus the
  // neighbour weights sum to 1. `combiner` null or plain average: the
  // Metropolis-Hastings weighted average; otherwise its rule, which gets
  // these weights when it accepts weights. `bristle`, when given, replaces
  // both; REQUIRES then that the exchanged span is its output layer.
  DpsgdNode(Learner& learner, const DpsgdOptions& options,
            std::vector<PeerId> neighbours,
            std::vector<double> neighbour_weights, double self_weight,
            std::shared_ptr<const ModelCombiner> combiner = nullptr,
            std::unique_ptr<const BristleCombiner> bristle = nullptr);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  // Keeps a neighbour's model as a view of the simulator's shared buffer.
  void OnSharedMessage(Host& host, PeerId from, const SharedMessage& message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  void OnPeerDown(Host& host, PeerId peer) override;
  // Own state only (Node::IndependentOfOtherNodes); not with a robust rule or Bristle,
  // which may evaluate or call out.
  bool IndependentOfOtherNodes() const override;
  // Snapshots: the plain average or a robust rule; not SybilWall, Bristle
  // or [privacy] local noise, whose state is not saved.
  bool CanSnapshot() const override;
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;
  // A runtime peer persists by round (DpsgdOptions::start_round,
  // resumable), where it could snapshot and keeps no history: by round
  // saves the learner and the round only, so not with SybilWall, whose
  // update histories a snapshot holds but a restarted peer would lose.
  PersistMode persist_mode() const override;

  int64_t completed_rounds() const { return round_.value; }

 private:
  enum class Phase { kTraining, kWaiting, kDone };
  void StartRound(Host& host);
  void MixIfComplete(Host& host);
  // Jumps to the round the neighbours are at when they went on without this
  // peer (round_barrier.h); true when it did.
  bool CatchUpIfBehind(Host& host);
  void Mix(Host& host);
  bool IsFinalMerge(Round round) const {
    return options_.final_merge && round.value == options_.rounds;
  }
  void FinalMerge(Host& host);
  void SendSybilWallRecords(Host& host);
  void OnSybilWallRecord(Host& host, PeerId from, std::span<const uint8_t> bytes);
  void SybilWallMix(Host& host, const ArrivedModels& arrived);
  std::vector<PeerId> ExpectedSenders(Round round) const;
  std::span<float> Exchanged() { return ExchangedParams(options_, learner_.params()); }

  Learner& learner_;
  const DpsgdOptions options_;
  const std::vector<PeerId> neighbours_;
  const std::vector<double> neighbour_weights_;
  const double self_weight_;
  const std::shared_ptr<const ModelCombiner> combiner_;
  const std::unique_ptr<const BristleCombiner> bristle_;

  Phase phase_ = Phase::kTraining;
  Round round_;  // rounds completed so far
  PeerId self_;  // set by OnStart
  double last_loss_ = 0;
  // The neighbours' models by round; the final merge's from every peer.
  RoundBarrier barrier_;
  std::unique_ptr<SybilWallHistory> sybilwall_;        // robust.rule = "sybilwall"
  std::optional<DpRelease> dp_;  // options_.dp enabled; from OnStart
};

// protocol.kind = "dpsgd": its keys (docs/config.md), read by its spec
// (dpsgd_spec.cc) and turned into DpsgdOptions for every peer.
struct DpsgdConfig {
  TopologyConfig topology;                                 // protocol.topology, ...
  CommSchedule comm_schedule = CommSchedule::kEveryRound;  // protocol.comm_schedule
  int64_t comm_budget = 0;                                 // kLate: communicating rounds
  bool final_merge = false;                                // last round averages all peers
};

}  // namespace murmur
