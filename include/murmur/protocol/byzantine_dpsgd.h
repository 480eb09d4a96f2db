// A Byzantine D-PSGD peer (attacks and knowledge: protocol/byzantine.h).
// Each round it trains from its model (base) unless it free-rides, waits
// for the round's models of its honest neighbours (or round_timeout after
// training), then sends every honest neighbour a crafted model, possibly a
// different one to each (equivocation), and sets its model to the plain
// mean of its trained model and the honest models it received. It sends
// nothing to, and ignores models from, other Byzantine peers, and ignores
// SybilWall's history gossip (the reference's Sybils do not gossip either).
// Reports no metrics, so accuracy is measured over honest peers only.
//
// Sybil collusion (attack "sybil"): the Byzantine peers are one adversary
// with many identities, sharing a DpsgdSybilCoalition. Each trains on its
// shard with labels source_class -> target_class, deposits its trained
// model, and once every member has deposited for the round (or the round
// timed out) all send the same model: the mean of the deposits. The
// coalition is shared state within one process (the simulator); a
// `murmur peer` process holds only itself, so there each identity sends its
// own poisoned model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/round_barrier.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/dpsgd.h"

namespace murmur {

// The shared state of colluding Sybil identities. Members join before the
// first round; a round is complete once every member has deposited its
// model for it. Crafted(round) is the mean of the deposits made by its
// first call, the same vector for every member afterwards. Not thread-safe:
// used only from node event handlers, which a host runs one at a time.
class DpsgdSybilCoalition {
 public:
  void Join(PeerId member) { members_.insert(member); }
  void Deposit(Round round, PeerId member, std::span<const float> model);
  bool Complete(Round round) const;
  // REQUIRES: at least one deposit for `round`. Each member fetches once
  // per round; the round is forgotten after the last member's fetch.
  std::vector<float> Crafted(Round round, PeerId member);

  // Snapshots: the coalition is shared by its members, so each saves its
  // own share -- for every round it deposited in, its model, whether it
  // fetched and the crafted vector -- and restoring every member's share
  // into a fresh coalition rebuilds the whole (a round exists from its
  // first deposit until every member fetched). RestoreShare joins
  // `member` and fails `in` (kCorrupt) for a model or crafted vector not of
  // `dim` floats, a round outside [1, max_round], or a crafted vector that
  // differs from another member's.
  void SaveShare(PeerId member, SnapshotWriter& out) const;
  void RestoreShare(PeerId member, SnapshotReader& in, size_t dim, int64_t max_round);
  bool Deposited(Round round, PeerId member) const;

 private:
  struct RoundState {
    std::map<PeerId, std::vector<float>> models;
    std::vector<float> crafted;
    std::set<PeerId> fetched;
  };
  std::set<PeerId> members_;
  std::map<Round, RoundState> rounds_;
};

class ByzantineDpsgdNode final : public Node {
 public:
  // How often a member waiting for the rest of its coalition checks it
  // (virtual time; no traffic).
  static constexpr Duration kCoalitionPoll = Duration::Nanos(10'000'000);

  // `neighbours` sorted; `honest` the sorted subset of them that is not
  // Byzantine. `learner` (poisoned for label-flip and sybil) must outlive
  // the node. `coalition`: shared by every Byzantine peer of the run for
  // attack "sybil", else null. REQUIRES: config.attack != kNone.
  ByzantineDpsgdNode(Learner& learner, const DpsgdOptions& options,
                     std::vector<PeerId> neighbours, std::vector<PeerId> honest,
                     const ByzantineConfig& config,
                     std::shared_ptr<DpsgdSybilCoalition> coalition = nullptr);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Own state only (Node::IndependentOfOtherNodes); not in a sybil
  // coalition, which its members share.
  bool IndependentOfOtherNodes() const override { return coalition_ == nullptr; }
  // Snapshots (every attack): Save writes the phase, round, round-start
  // model (base), the poll timer, the honest neighbours' buffered models
  // and, for "sybil", this member's share of the coalition
  // (DpsgdSybilCoalition::SaveShare).
  bool CanSnapshot() const override { return true; }
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;

  int64_t completed_rounds() const { return round_.value; }

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
  const std::shared_ptr<DpsgdSybilCoalition> coalition_;

  Phase phase_ = Phase::kTraining;
  Round round_;  // rounds completed
  PeerId self_;  // set by OnStart (the coalition's key)
  TimerId poll_timer_;
  bool poll_pending_ = false;
  double last_loss_ = 0;
  std::vector<float> base_;        // model at the start of the round
  std::vector<float> round_noise_; // gaussian: one draw per round
  RoundBarrier barrier_;  // the honest neighbours' models by round
};

}  // namespace murmur
