// Epidemic Learning (de Vos, Farhadkhani, Guerraoui, Kermarrec, Pires,
// Sharma, 2023, "Epidemic Learning: Boosting Decentralized Learning with
// Randomized Communication", NeurIPS), the EL-Local variant: a randomized,
// changing topology. Each synchronous round a peer takes `local_steps` SGD
// steps, sends its model to `fanout` (s) peers drawn uniformly at random
// from the others, and replaces its model with the plain average of its own
// and every model it received for the round.
//
// The s targets of peer j in round r are drawn from a stream keyed by
// (run seed, j, r), which every peer can regenerate, so a receiver knows
// exactly who sends to it and mixes as soon as all of them arrived; the
// choice is as uniform and independent as with private randomness.
//
// Models travel in D-PSGD's frame (ModelMessageKind::kDpsgdParams).
//
// Fault semantics (as D-PSGD): a model that has not arrived `round_timeout`
// after this peer finished training is skipped for that round; models for
// the next RoundBarrierOptions::window rounds are buffered; late ones
// ignored (protocol/round_barrier.h). Tolerates crashed, offline
// and slow peers and lost messages; not Byzantine robust (see robust/).
//
// A runtime peer that persists its state (`murmur peer --persist-every`)
// persists by round (PersistMode::kByRound): its state between rounds is
// its learner's, and the models it had buffered for later rounds are sent
// again by peers resumed with it. Resumed, it starts at the saved round
// (EpidemicOptions::start_round) and, since the others may have resumed
// at other rounds or gone on without it, does not wait for a sender whose
// newest model is two or more rounds ahead (EpidemicOptions::resumable):
// a peer restarted alone trains the rounds it missed without waiting and
// so reaches the others' round (it has no D-PSGD catch-up jump: its
// senders change every round).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/round_barrier.h"

namespace murmur {

// The `fanout` distinct peers, other than `sender`, that `sender` pushes to
// in `round` out of `num_peers`, sorted. Pure.
// REQUIRES: 1 <= round < 2^24, fanout < num_peers.
std::vector<PeerId> EpidemicTargets(uint64_t seed, PeerId sender, int64_t round,
                                    int64_t fanout, int64_t num_peers);

// Built by MakeProtocol from ProtocolConfig, which holds the defaults.
struct EpidemicOptions {
  int64_t rounds = 0;
  int64_t local_steps = 0;
  int64_t fanout = 0;     // s
  int64_t num_peers = 0;
  Duration round_timeout;  // 0: wait forever
  uint64_t seed = 0;       // run seed, shared by all peers
  // The rounds completed before this node starts (a peer resumed from its
  // persisted state): it reports its model for this round, trains round
  // start_round + 1 and collects that round's models.
  // REQUIRES 0 <= start_round <= rounds.
  int64_t start_round = 0;
  // This peer persists its state: it does not wait for a sender two or
  // more rounds ahead (RoundBarrierOptions::skip_senders_ahead).
  bool resumable = false;
};

// One peer. `learner` must outlive the node.
class EpidemicNode final : public Node {
 public:
  EpidemicNode(Learner& learner, const EpidemicOptions& options);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  // A sender declared down is not waited for until it sends again
  // (round_barrier.h).
  void OnPeerDown(Host& host, PeerId peer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Own state only (Node::IndependentOfOtherNodes); its learner, barrier
  // and streams.
  bool IndependentOfOtherNodes() const override { return true; }
  // Snapshots (Node::CanSnapshot): the phase, round and the barrier's
  // buffered models; the targets are regenerated from the run seed.
  bool CanSnapshot() const override { return true; }
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;
  // A runtime peer persists by round (see above).
  PersistMode persist_mode() const override { return PersistMode::kByRound; }

  int64_t completed_rounds() const { return round_.value; }

 private:
  enum class Phase { kTraining, kWaiting, kDone };
  void StartRound(Host& host);
  void MixIfComplete(Host& host);
  void Mix(Host& host);
  // Peers that send to this one in `round`, sorted; none for a round
  // outside 1..rounds.
  std::vector<PeerId> SendersTo(PeerId self, Round round) const;

  Learner& learner_;
  const EpidemicOptions options_;
  Phase phase_ = Phase::kTraining;
  Round round_;  // rounds completed
  PeerId self_;  // set by OnStart
  double last_loss_ = 0;
  RoundBarrier barrier_;  // the drawn senders' models by round
};

// protocol.kind = "epidemic": its keys (docs/config.md), read by its spec
// (epidemic_spec.cc).
struct EpidemicConfig {
  int64_t fanout = 7;  // protocol.epidemic_fanout: s
};

}  // namespace murmur
