// Stochastic Gradient Push (Assran, Loizou, Ballas, Rabbat, 2019,
// "Stochastic Gradient Push for Distributed Deep Learning", ICML), built on
// the push-sum protocol (Kempe, Dobra, Gehrke, 2003, "Gossip-Based
// Computation of Aggregate Information", FOCS).
//
// Each peer keeps a push-sum weight w (1 at the start) and a numerator x
// (its initial model); its model, the one it trains, evaluates and reports,
// is the de-biased z = x / w. Each synchronous round a peer
//   1. takes `local_steps` SGD steps on z and applies the step to the
//      numerator, x <- x + (z_trained - z) (Algorithm 1 of the paper:
//      x^{k+1/2} = x^k - lr * grad F(z^k));
//   2. splits (x, w) into k + 1 equal shares, sends (x / (k+1), w / (k+1))
//      to each of its k out-peers of that round and keeps one share;
//   3. adds every share it received for the round to its own and sets
//      z = x / w.
// The mixing is column stochastic only (a peer decides what it sends, not
// what it receives), so it runs on directed and time-varying graphs where
// D-PSGD's doubly stochastic mixing does not exist; the weights undo the
// bias: with every message delivered, sum_i w_i = n and sum_i x_i are
// conserved and every z_i tends to the average of the x_i.
//
// The graph (ExponentialOutPeers): the paper's time-varying directed
// exponential graph. With m = ExponentialGraphHops(n) distinct hops 2^0,
// 2^1, ..., 2^(m-1) (the largest power of two below n is the last), peer i
// sends in round r (t = r - 1) to i + 2^((t k + j) mod m) mod n for
// j = 0..k-1; k = 1 is the paper's 1-peer exponential graph. Every peer
// then has k in-peers and k out-peers per round, so with every message
// delivered w stays 1; other graphs (an SgpNode takes any schedule) move it.
//
// Wire: the D-PSGD model frame (model_message.h, kind kDpsgdParams) with
// the numerator share as its parameters and the weight share's IEEE-754
// bits in its u64 `weight` field. A share whose weight is not finite and
// positive is rejected (ReportBadPeer).
//
// Fault semantics: the round waits on the shared RoundBarrier
// (round_barrier.h) for the round's in-peers; a share that has not arrived
// `round_timeout` after the peer sent its own is left out of that round and
// dropped if it arrives later (counted as "sgp.late_models", the timeout as
// "sgp.round_timeouts"). Push-sum conserves mass only when every share is
// delivered (the paper assumes reliable delivery; its overlap variant
// tau-OSGP adds delayed shares whenever they arrive); here a lost share's
// mass is lost: sum_i w_i falls below n and the peers' average drifts
// toward the models whose shares arrived. Each z stays an unbiased
// combination of models (its coefficients sum to 1), because a share's x
// and w travel in one message and are lost together; a peer that hears
// nothing keeps its own share, so its z is its own model. Tolerates crash
// faults and message loss in that sense; not Byzantine peers (a sender can
// inject any mass). A share for a round beyond the barrier's window is
// kept (each in-peer's newest, round_barrier.h) with its weight, and mixed
// when its round comes.
//
// Peers down (OnPeerDown, the runtime's failure detector; the simulator
// declares none): a peer declared down is not waited for, and gets no share
// until it sends again or is declared up (OnPeerUp): its share stays with
// the sender ("sgp.shares_kept_from_peers_down"), so the mass of the peers
// up is conserved from the moment the detector spoke; only the shares sent
// before that are lost. (Sending on would lose 1/(k+1) of every in-peer's
// mass each round it is an out-peer: w decays geometrically, the SGD step,
// which lands on the numerator, moves z by step / w, and in a 4-peer run
// over `murmur launch` with one peer killed the others' loss passed 3e7
// within ~200 rounds; measured 2026-12-07 before this rule.)
//
// Catching up: a peer that restarted (or fell behind) sees its in-peers'
// shares `catch_up_gap` or more rounds ahead of its own; once every in-peer
// up has sent such a share (RoundBarrier::CatchUpRound), it jumps to the least
// advanced one's round r ("sgp.catch_ups"): its model becomes the senders'
// de-biased average z = sum x_j / sum w_j over their newest shares, its
// numerator x = z w with its own weight w, plus the weights of the
// buffered shares of the rounds it skips, and it trains and mixes from
// round r on (the shares it adopted z from were copies; those of round r
// are mixed as usual). Its stale mass thus comes back at the others'
// model, not at its own old one, and the shares it skips keep theirs. What
// is still lost: its own shares sent before the jump (late at their
// receivers), shares that arrive after their round closed on a timeout
// while it catches up, and a share more than the barrier's window ahead
// that the same sender's newer one replaced (the barrier keeps one per
// sender); from then on, with every share delivered, the mass is conserved
// again.
// Its peers wait for it again from its reconnection on (OnPeerUp,
// RoundBarrier::MarkUp), but not for a round it skipped (one of whose
// later shares they hold). Over the runtime this needs a round timeout:
// until its jump, its out-peers wait for it, and without a timeout a wait
// on a peer that waits in turn for them can stall the run.
//
// Snapshots: the node's state between events is more than its learner's
// (which holds z only): Save writes the phase, round, the numerator x and
// weight w, the buffered shares with their weights, and the peers down, so
// a restored node keeps its mass (a node rebuilt from z alone with w = 1
// would change sum_i w_i and every later z). Runtime peers do not persist
// (`--persist-every` is refused, PersistMode::kNone): a restarted SGP peer
// catches up as above instead, and resuming from a saved x and w would put
// back mass the others already moved on without.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/round_barrier.h"

namespace murmur {

// Built by the "sgp" spec (sgp_spec.cc) from ProtocolConfig and SgpConfig.
struct SgpOptions {
  int64_t rounds = 0;
  int64_t local_steps = 0;
  Duration round_timeout;  // 0: wait forever
  int64_t num_peers = 0;   // the run's peers 0..num_peers-1
  // A peer jumps (see Catching up) when every in-peer up is this many
  // rounds or more ahead of its open round. It must exceed how far peers
  // drift apart in a healthy run, or a peer would skip rounds its out-peers
  // wait for: on the exponential graph every peer's round r depends on
  // every other's round r - m (m = ExponentialGraphHops, within which a
  // share reaches everyone), so the spec sets m + 2. REQUIRES >= 2.
  int64_t catch_up_gap = 2;
};

// The distinct hops of the exponential graph over `num_peers` peers: the
// number of powers of two below num_peers (0 for num_peers <= 1; 4 for 16).
int64_t ExponentialGraphHops(int64_t num_peers);

// The peers `self` sends to in `round` (round >= 1) on the exponential
// graph with `out_peers` out-peers per round, in send order.
// REQUIRES: 0 <= out_peers <= ExponentialGraphHops(num_peers), self < num_peers.
std::vector<PeerId> ExponentialOutPeers(PeerId self, int64_t num_peers, int64_t out_peers,
                                        Round round);
// The peers that send to `self` in `round`, sorted. Same REQUIRES.
std::vector<PeerId> ExponentialInPeers(PeerId self, int64_t num_peers, int64_t out_peers,
                                       Round round);

// Who a peer sends to and hears from in one round.
struct SgpRoundPeers {
  std::vector<PeerId> out;  // distinct, not the peer itself
  std::vector<PeerId> in;   // sorted, distinct, not the peer itself
};
// One peer's communication graph, by round (>= 1). The schedules of a run's
// peers must agree: j is in i's `out` of a round iff i is in j's `in`.
using SgpSchedule = std::function<SgpRoundPeers(Round)>;

// One peer. `learner` must outlive the node. Not thread-safe (one Host's
// handlers drive it).
class SgpNode final : public Node {
 public:
  SgpNode(Learner& learner, const SgpOptions& options, SgpSchedule schedule);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  // A peer declared down is not waited for until it sends again
  // (round_barrier.h), and gets no share until it sends or is up again.
  void OnPeerDown(Host& host, PeerId peer) override;
  void OnPeerUp(Host& host, PeerId peer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Snapshots (see above; sgp_snapshot.cc).
  bool CanSnapshot() const override { return true; }
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;
  PersistMode persist_mode() const override { return PersistMode::kNone; }

  int64_t completed_rounds() const { return round_.value; }
  // The push-sum weight w and numerator x after the completed rounds.
  double weight() const { return w_; }
  std::span<const float> numerator() const { return x_; }

 private:
  enum class Phase { kTraining, kWaiting, kDone };
  void StartRound(Host& host);
  void MixIfComplete(Host& host);
  void Mix(Host& host);
  // Moves the weights of the shares the barrier has just filed from beyond
  // its window into weights_ (and forgets those of rounds closed).
  void FileAheadWeights();
  // Each sender's newest buffered share's round and weight (those weights_
  // and ahead_weights_ hold).
  std::map<PeerId, std::pair<Round, double>> NewestWeights() const;
  // When the barrier names a round to catch up to (every in-peer up is
  // catch_up_gap or more rounds ahead): jumps there from the senders'
  // average (see above) and starts its training; true then.
  bool CatchUpIfBehind(Host& host);

  Learner& learner_;
  const SgpOptions options_;
  const SgpSchedule schedule_;

  Phase phase_ = Phase::kTraining;
  Round round_;  // rounds completed so far
  double last_loss_ = 0;
  std::vector<float> x_;  // the numerator
  double w_ = 1.0;        // the weight
  // The numerator shares by round; their weights beside them, and those of
  // the shares the barrier keeps beyond its window (each in-peer's newest,
  // as the barrier keeps them) until it files them.
  RoundBarrier barrier_;
  std::map<Round, std::map<PeerId, double>> weights_;
  std::map<PeerId, std::pair<Round, double>> ahead_weights_;
  bool restored_ = false;  // Restore ran: OnStart keeps x and w
  // Peers declared down (OnPeerDown) that have neither sent since nor been
  // declared up: they get no share.
  std::set<PeerId> down_;
};

// protocol.kind = "sgp": its keys (docs/protocols/sgp.md), read by its spec.
struct SgpConfig {
  // protocol.sgp_out_peers: out-peers per round on the exponential graph;
  // 0: no communication (every peer trains alone, a local-only baseline).
  int64_t out_peers = 1;
};

}  // namespace murmur
