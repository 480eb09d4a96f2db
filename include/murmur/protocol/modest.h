// MoDeST: decentralized sampling (de Vos, Farhadkhani, Guerraoui, Kermarrec,
// Pires, Sharma, 2023, "MoDeST: Bridging the Gap between Federated and
// Decentralized Learning with Decentralized Sampling"). Federated-style
// rounds without a server: every round r a sample of `trainers` peers trains
// and a sample of `aggregators` peers averages their models, and both samples
// are drawn by every peer alone from its view of the membership. A peer's
// rank in round r is a hash of (run seed, round, role, peer), so peers with
// the same view compute the same sample.
//
// One round r:
//  1. A trainer of round r receives the round's model from an aggregator of
//     round r-1 (round 1 trainers start from their initial model), trains
//     `local_steps` SGD steps with a fresh optimizer, and hands its model to
//     `aggregators` peers of the round-r sample.
//  2. An aggregator of round r averages the first ceil(success_fraction x s)
//     models it receives (or what it has `round_timeout` after the first),
//     acknowledges them, reports the average as round r's model, and hands
//     it to `trainers` peers of the round-(r+1) sample.
// "Hands to k peers of a sample" is the paper's liveness-checked selection:
// ping candidates in rank order, send the payload to each one that answers,
// and replace the ones that stay silent for `ping_timeout` by the next
// candidates, until k answered or the view is exhausted.
//
// Membership: each peer keeps a table of (alive, incarnation) per peer,
// piggybacked on every message (SWIM-style: higher incarnation wins, at equal
// incarnation "dead" wins; a peer told it is dead refutes with a higher
// incarnation, and any message from a peer marked dead revives it, which is
// how peers that come back join again). Peers are marked dead when they miss
// a ping, when an aggregator never acknowledges a trainer's model, and when
// trainers of the next round never report progress.
//
// Fault semantics: tolerates crashed, offline and rejoining peers and lost
// messages. A failed aggregator does not stall the run: trainers whose model
// is not acknowledged within 2 x round_timeout resend it to the next
// aggregators, and an aggregator whose round-(r+1) trainers do not report
// progress within 3 x round_timeout hands its model to fresh trainers.
// `round_timeout` must exceed one round's training time. Not Byzantine
// robust (see robust/).
//
// Stall restart (this implementation's; the paper does not spell it out):
// those timeouts live on the peers that hold the round (its aggregators and
// the trainers they handed it to); when every one of them crashes, no
// survivor holds a timer and the run would stop. So every peer also keeps a
// stall timer, set again whenever it hears of a higher round than before
// (every message names its round). If it hears of no newer round for
// 4 x round_timeout (longer than the 2x and 3x recoveries above, so they act
// first) while it holds no round itself, it restarts the run: it hands its
// newest model (its last average if it aggregated since it last trained,
// else its last trained model) to the trainers of the round after that
// model's round, as an aggregator of that round would. Restarts merge by
// round number: peers with equally new models restart the same round with
// the same sample, whose trainers train once and report progress to every
// sender; a trainer already past a handed round answers with progress at
// once, which ends a restart from an older model after one message. In a run
// with no failure the timer never fires as long as every peer hears of a
// newer round within 4 x round_timeout (true for examples/modest.toml: 32
// peers, 12 pinged per round).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/core/snapshot.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/modest_message.h"

namespace murmur {

// The peers of `view` ordered by their rank for (round, role): the first k
// are the round's sample of size k. Pure: every peer computes the same order
// from the same view. REQUIRES: 1 <= round < 2^22.
std::vector<PeerId> ModestCandidates(uint64_t seed, int64_t round, ModestRole role,
                                     std::span<const PeerId> view);

// Built by MakeProtocol from ProtocolConfig, which holds the defaults.
struct ModestOptions {
  int64_t rounds = 0;
  int64_t local_steps = 0;
  int64_t num_peers = 0;        // the universe of peer ids, 0..num_peers-1
  int64_t trainers = 0;         // s
  int64_t aggregators = 0;      // a
  double success_fraction = 1;  // sf: share of s an aggregator waits for
  Duration ping_timeout;
  Duration round_timeout;
  uint64_t seed = 0;            // run seed: shared by all peers for sampling
};

// One peer; every peer runs the same node. `learner` must outlive it.
class ModestNode final : public Node {
 public:
  ModestNode(Learner& learner, const ModestOptions& options);
  ~ModestNode() override;

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Own state only (Node::IndependentOfOtherNodes); its learner, view
  // and selections.
  bool IndependentOfOtherNodes() const override { return true; }
  // Snapshots (Node::CanSnapshot; modest_snapshot.cc): the membership
  // table, the live timers by id with their kind and round, the messages
  // to itself, both sides' rounds, selections, buffered models and running
  // sums, and the stall-restart state.
  bool CanSnapshot() const override { return true; }
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;

  // Rounds this peer trained in and aggregated for.
  const std::vector<int64_t>& trained_rounds() const { return trained_rounds_; }
  const std::vector<int64_t>& aggregated_rounds() const { return aggregated_rounds_; }
  // Times this peer restarted a stalled run (see "Stall restart" above).
  int64_t stall_restarts() const { return stall_restarts_; }
  // This peer's view: the peers it believes alive, sorted.
  std::vector<PeerId> View() const;

 private:
  struct Member {
    uint32_t incarnation = 0;
    bool alive = true;
  };
  // A liveness-checked selection in progress ("hands to k peers").
  struct Selection {
    int64_t round = 0;
    ModestRole role = ModestRole::kTrainer;
    int64_t wanted = 0;
    std::vector<PeerId> order;
    size_t next = 0;
    std::set<PeerId> awaiting;  // pinged, no pong yet
    std::vector<PeerId> confirmed;
    std::vector<uint8_t> payload;
  };
  // An aggregator's running sum of one round's trained models.
  struct Aggregation {
    std::vector<double> sum;
    std::set<PeerId> from;
  };
  enum class TimerKind : uint8_t {
    kPingAggregators, kPingTrainers, kAckWait, kClose, kProgressWait, kSelfDelivery, kStall
  };

  void Send(Host& host, PeerId to, std::vector<uint8_t> bytes);
  void MarkDead(PeerId peer);
  void MergeMembership(Host& host, PeerId from, std::span<const uint8_t> updates);
  std::vector<uint8_t> Frame(ModestMessageType type, int64_t round, ModestRole role,
                             std::span<const float> params) const;

  // Selection of `wanted` peers of (round, role), each sent `payload`.
  void StartSelection(Host& host, std::unique_ptr<Selection>& slot, int64_t round,
                      ModestRole role, int64_t wanted, std::vector<uint8_t> payload);
  void PingMore(Host& host, Selection& selection);
  void OnPong(Host& host, PeerId from, int64_t round, ModestRole role);

  void StartTraining(Host& host, int64_t round, std::span<const float> model);
  void OnGlobal(Host& host, PeerId from, int64_t round, std::vector<float> params);
  void OnTrained(Host& host, PeerId from, int64_t round, std::vector<float> params);
  void OnAck(Host& host, int64_t round);
  void Dispatch(Host& host, PeerId from, std::span<const uint8_t> message);
  void Close(Host& host, int64_t round);
  // As an aggregator of round - 1: hand `model` to the trainers of `round`
  // and wait for their progress.
  void HandToTrainers(Host& host, int64_t round, std::span<const float> model);
  // Stall restart (see the header comment).
  void Heard(Host& host, int64_t round);
  void ArmStall(Host& host, Duration after);
  void OnStall(Host& host);
  bool HoldsRound() const;
  // Snapshot parts (modest_snapshot.cc).
  static void SaveSelection(SnapshotWriter& out, const Selection* selection);
  std::unique_ptr<Selection> RestoreSelection(SnapshotReader& in) const;
  Status CheckRestored() const;

  Learner& learner_;
  const ModestOptions options_;
  std::vector<Member> members_;
  std::map<uint64_t, std::pair<TimerKind, int64_t>> timers_;
  // Messages to this peer itself, delivered on a zero-delay timer so that
  // no handler runs inside another.
  std::vector<std::vector<uint8_t>> self_inbox_;

  // Trainer side.
  bool training_ = false;
  int64_t train_round_ = 0;         // latest round trained or in training
  int64_t pending_round_ = 0;       // a newer model that came while training
  std::vector<float> pending_model_;
  double last_loss_ = 0;
  std::unique_ptr<Selection> to_aggregators_;
  std::vector<float> trained_;      // kept until an aggregator acknowledges it
  int64_t unacked_round_ = 0;       // 0: none
  std::map<int64_t, std::set<PeerId>> global_senders_;

  // Aggregator side.
  std::map<int64_t, Aggregation> aggregations_;
  int64_t closed_up_to_ = 0;        // every round <= this one is closed here
  std::unique_ptr<Selection> to_trainers_;
  int64_t awaiting_progress_ = 0;   // round whose trainers must report; 0: none

  // Stall restart.
  int64_t heard_round_ = 0;         // highest round this peer heard of
  SimTime heard_at_;                // when heard_round_ last rose
  bool stall_armed_ = false;
  bool run_done_ = false;           // the last round is closed: no more restarts
  std::vector<float> last_average_; // this peer's latest average (round closed_up_to_)
  int64_t stall_restarts_ = 0;

  std::vector<int64_t> trained_rounds_;
  std::vector<int64_t> aggregated_rounds_;
};

// protocol.kind = "modest": its keys (docs/config.md), read by its spec
// (modest_spec.cc).
struct ModestConfig {
  int64_t trainers = 10;          // protocol.modest_trainers: s
  int64_t aggregators = 2;        // protocol.modest_aggregators: a
  double success_fraction = 1.0;  // protocol.modest_success_fraction: sf
  double ping_timeout_s = 0.5;    // protocol.modest_ping_timeout_s
};

}  // namespace murmur
