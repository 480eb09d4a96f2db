// Byzantine FedAvg clients (attacks and knowledge: protocol/byzantine.h).
// A ByzantineFedAvgClient speaks FedAvg's wire format to the honest server:
// it receives the global model, trains (honestly, or on poisoned data), and
// replies with a crafted model and its true sample count.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/core/snapshot.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/fedavg.h"

namespace murmur {

// The shared state of colluding Byzantine clients: one adversary with many
// identities. Members register when the server selects them for a round
// (they receive its global model) and deposit their honestly trained update;
// once every registered member has deposited, the coalition crafts one
// update for the round that every member sends. Not thread-safe: used only
// from node event handlers, which a host runs one at a time.
class FedAvgCoalition {
 public:
  explicit FedAvgCoalition(const ByzantineConfig& config) : config_(config) {}

  void Register(int64_t round, PeerId member);
  void Deposit(int64_t round, PeerId member, std::vector<float> update);
  // True when every member registered for `round` has deposited.
  bool Complete(int64_t round) const;
  // The crafted update for `round` from the deposits so far (computed once,
  // then the same for every member): alie and ipm over the deposits, mimic
  // the deposit of the lowest-numbered member, sybil their mean.
  // REQUIRES: at least one deposit for `round`.
  const std::vector<float>& Crafted(int64_t round);

  // Snapshots: the coalition is shared by its members, so each member
  // saves its own share -- every round it is registered in, its deposit
  // there and the round's crafted update -- and restoring every member's
  // share into a fresh coalition rebuilds the whole (a round exists only
  // while some member is registered in it). RestoreShare fails `in`
  // (kCorrupt) for a deposit or crafted update not of `dim` floats, a
  // round outside [0, max_round], or a crafted update that differs from
  // another member's.
  void SaveShare(PeerId member, SnapshotWriter& out) const;
  void RestoreShare(PeerId member, SnapshotReader& in, size_t dim, int64_t max_round);
  // Whether `member` has deposited its update for `round`.
  bool Deposited(int64_t round, PeerId member) const;

 private:
  struct RoundState {
    std::set<PeerId> registered;
    std::map<PeerId, std::vector<float>> updates;
    std::vector<float> crafted;
  };
  const ByzantineConfig config_;
  std::map<int64_t, RoundState> rounds_;
};

// True for attacks that need the coalition's deposits to craft.
bool NeedsCoalition(AttackKind kind);

// One Byzantine client. `learner` (its data poisoned for label-flip and
// sybil) must outlive the node; `coalition` is shared by all Byzantine
// clients of a run. Reports no metrics.
class ByzantineFedAvgClient final : public Node {
 public:
  // How often a member that has deposited checks whether the coalition is
  // complete (virtual time; no traffic).
  static constexpr Duration kCoalitionPoll = Duration::Nanos(10'000'000);

  // REQUIRES: config.attack is neither kNone nor kEquivocation.
  ByzantineFedAvgClient(Learner& learner, const FedAvgOptions& options, PeerId server,
                        const ByzantineConfig& config,
                        std::shared_ptr<FedAvgCoalition> coalition);

  void OnStart(Host& host) override { self_ = host.self(); }
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Snapshots (every attack): the round it trains or waits for, the global
  // model it started from, a pending one, and its share of the coalition
  // (FedAvgCoalition::SaveShare).
  bool CanSnapshot() const override { return true; }
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;

 private:
  void Begin(Host& host, Round round, std::vector<float> global);
  void TrySend(Host& host);
  // Sends base + update (or the non-finite payload) for round_.
  void Reply(Host& host, std::span<const float> update);
  void NextPending(Host& host);

  Learner& learner_;
  const FedAvgOptions options_;
  const PeerId server_;
  const ByzantineConfig config_;
  std::shared_ptr<FedAvgCoalition> coalition_;

  bool busy_ = false;     // training or waiting for the coalition
  bool waiting_ = false;  // deposited; waiting for the coalition
  SimTime wait_deadline_;
  Round round_;
  std::vector<float> global_;  // the base of round_
  double last_loss_ = 0;
  std::vector<float> pending_global_;
  Round pending_round_;
  PeerId self_;  // set by OnStart (the coalition's key)
};

}  // namespace murmur
