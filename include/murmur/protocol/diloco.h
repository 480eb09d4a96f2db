// DiLoCo (Douillard, Feng, Rusu, Chhaparia, Donchev, Kuncoro, Ranzato,
// Szlam, Shen, 2023, "DiLoCo: Distributed Low-Communication Training of
// Language Models"), over the collective layer (collective/, docs/
// collective.md) and the Host seam. Every peer holds the same global
// parameters theta and outer momentum; each outer step (a round) it
//   1. runs H = protocol.local_steps inner steps of its own optimizer
//      (train.optimizer; the paper's AdamW is train.optimizer = "adam"
//      with weight_decay 0, where the two coincide) from theta on its own
//      data, keeping its inner optimizer state across outer steps, as the
//      paper does;
//   2. forms the pseudo-gradient delta_i = theta - theta_i;
//   3. averages the deltas over the live peers with a ring all-reduce, or
//      aggregates them with the run's [robust] rule over an all-gather
//      (collective/all_gather.h) when the rule is not the plain mean;
//   4. takes an outer step of SGD with Nesterov momentum (PyTorch
//      semantics): m = mu m + Delta; theta -= lr (Delta + mu m) (without
//      Nesterov: theta -= lr m). The paper's outer lr 0.7, mu 0.9 are the
//      defaults. lr 1 and mu 0 make theta the mean of the peers' models;
//      with H = 1 that is synchronous training with an all-reduce every
//      step: exactly data-parallel SGD for inner plain SGD (theta - lr
//      mean(g_i)), and per-step model averaging for Adam (each peer's
//      moments its own). That configuration is the baseline;
//   5. optionally (diloco.check_state) hashes the shared state (theta and
//      m) with BLAKE2b and compares digests with the members; a peer in the
//      minority pulls the majority's state (collective/state_sync.h).
//
// Fault tolerance: a peer lost during an all-reduce or gather aborts it on
// every survivor (kPeerLost, buffers restored) and the survivors agree on a
// new membership and redo the step over themselves (retry.h), so crashes
// cost one timeout (protocol.round_timeout_s, which must exceed the spread
// of the peers' inner-phase times) and the run goes on. A restarted peer
// (DilocoOptions::rejoin) joins the group (CollectiveGroup::Joining); the
// members admit it at their next outer-step boundary, before comparing
// state hashes, and it learns the step and the majority digest from their
// hashes, pulls theta and m (StateSync), and trains from the next outer
// step on as a member again. Restarted without `rejoin` (as a founder at
// round 0) it is told Evicted by the members (collective_group.h) and
// takes the same path (AfterEvent, DilocoRejoin); without check_state, or
// delayed, it cannot and halts (Halted: `murmur peer` exits 1 saying so).
// Trust limit: by default one member's Evicted notice evicts it, so one
// Byzantine insider can make a member abort and resync at will
// (diloco.evicted_notices = f + 1, DilocoConfig::evicted_notices, closes
// that; docs/collective.md, "Evicted"). The mean tolerates
// no Byzantine peer; a robust rule tolerates what that rule tolerates
// among the gathered pseudo-gradients (e.g. trimmed mean with robust.f = b
// tolerates b). Every survivor aggregates the same gathered bytes with a
// rule seeded by (run seed, aggregation number), so all stay bit-identical (the hashes
// check it). Byzantine peers (byzantine.attack = "sign-flip": send
// -scale x delta_i; "gaussian": send N(0, sigma^2) per coordinate) follow
// the protocol otherwise and report no model.
//
// Not thread-safe (a Node). `learner` must outlive the node.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "murmur/collective/collective_group.h"
#include "murmur/collective/state_sync.h"
#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/diloco_rejoin.h"
#include "murmur/protocol/model_combiner.h"

namespace murmur {

// protocol.kind = "diloco": its [diloco] keys (docs/config.md).
struct DilocoConfig {
  double outer_lr = 0.7;
  double outer_momentum = 0.9;
  bool nesterov = true;
  bool check_state = true;
  // One-step-delayed outer updates: round r's inner phase runs while round
  // r-1's pseudo-gradient is reduced, and that aggregate is applied at the
  // end of round r (theta lags one outer step; the last round's own
  // pseudo-gradient is reduced and applied before the run ends).
  bool delayed = false;
  // CO2 (Sun, Qin, Sun, Li, Li, Shen, Qiao, Zhong, ICLR 2024, "CO2:
  // Efficient Distributed Training with Full Communication-Computation
  // Overlap"; protocol.kind = "co2", co2_spec.cc): the staleness gap
  // penalty divides the one-step-stale aggregate by gap_penalty >= 1 before
  // it enters the outer momentum, and outer momentum clipping bounds every
  // coordinate of m to [-momentum_clip, momentum_clip] (0: no clipping).
  // Defaults leave the outer step as DiLoCo's.
  double gap_penalty = 1.0;
  double momentum_clip = 0.0;
  // Distinct members whose Evicted notices a member needs before it
  // aborts its operations and resyncs (CollectiveOptions::evicted_notices;
  // diloco.evicted_notices, 1 <= it <= peers - 1). 1: one insider's notice
  // evicts it; f + 1 keeps f Byzantine insiders from forcing resyncs.
  int64_t evicted_notices = 1;
};

struct DilocoOptions {
  int64_t rounds = 0;       // outer steps
  int64_t inner_steps = 1;  // H
  DilocoConfig outer;
  collective::CollectiveOptions collective;
  int max_attempts = 8;     // tries of one outer step's collective
  int64_t num_peers = 0;    // the founding members PeerId(0..num_peers-1)
  uint64_t seed = 0;        // seeds randomized robust rules, per aggregation
  // This peer restarts after a crash while the others run on: it joins the
  // group instead of founding it and pulls the shared state before it
  // trains. REQUIRES: outer.check_state, !outer.delayed.
  bool rejoin = false;
};

// What a Byzantine DiLoCo peer sends instead of its pseudo-gradient.
struct DilocoAttack {
  AttackKind kind = AttackKind::kNone;
  double scale = 1.0;  // sign-flip
  double sigma = 1.0;  // gaussian
};

// The outer optimizer step (SGD, PyTorch semantics, momentum starting at
// 0): m = mu m + g; theta -= lr (g + mu m) with Nesterov, lr m without.
// CO2's options (DilocoConfig): g is first divided by gap_penalty, and m is
// clamped to [-momentum_clip, momentum_clip] when momentum_clip > 0 before
// theta moves. REQUIRES: equal sizes, gap_penalty > 0.
void OuterSgdStep(std::span<float> theta, std::span<float> momentum, std::span<const float> g,
                  double lr, double mu, bool nesterov, double gap_penalty = 1.0,
                  double momentum_clip = 0.0);

class DilocoNode final : public Node {
 public:
  // `initial` is the global start (every peer passes the same); `combiner`
  // null or plain average: the ring all-reduce mean.
  DilocoNode(Learner& learner, DilocoOptions options, std::span<const float> initial,
             std::shared_ptr<const ModelCombiner> combiner, DilocoAttack attack = {});

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  void OnPeerDown(Host& host, PeerId peer) override;
  Status Halted() const override { return rejoin_.halted(); }

  int64_t completed_rounds() const { return round_; }
  std::span<const float> global() const { return {shared_.data(), length_}; }
  std::span<const float> momentum() const { return {shared_.data() + length_, length_}; }
  const collective::CollectiveGroup& group() const { return *group_; }
  // The most bytes this peer sent in one outer exchange.
  uint64_t peak_exchange_bytes() const { return peak_bytes_; }

 private:
  void StartRound(Host& host);
  // out = start - local, or what the attack sends instead.
  void PseudoGradient(Host& host, std::span<const float> start, std::span<float> out);
  // Aggregates this peer's `buffer` with the members' (mean by all-reduce,
  // or the rule over an all-gather) into `buffer`; done(ok) after.
  void Aggregate(Host& host, std::vector<float>* buffer, std::function<void(Host&, bool)> done);
  void ApplyOuterStep(Host& host, std::span<const float> aggregate);
  void MaybeFinishDelayedRound(Host& host);
  void FinishRound(Host& host);
  void CheckState(Host& host);
  // Learns the step (from `min_step` on) and the state from the members'
  // hashes, pulls it and trains the next step: a joiner once admitted
  // (`rejoin`, counted as diloco.rejoins), or a peer whose pull of the
  // majority's state failed (it then waits for a later step's hashes
  // rather than train on a state the group does not hold).
  void Resync(Host& host, uint32_t min_step, bool rejoin);
  // After an event: greets new members and handles an eviction
  // (DilocoRejoin): drops the round in flight and rejoins like `rejoin`
  // (after the inner phase in flight, if any, which owns the learner), or
  // halts when it cannot resync (Halted).
  void AfterEvent(Host& host);
  void Rejoin(Host& host);
  // A continuation of generation `gen` still applies (no eviction since).
  bool Current(uint64_t gen) const { return rejoin_.Current(gen, *group_); }
  uint64_t Generation() const { return rejoin_.generation(); }
  std::span<float> Global() { return {shared_.data(), length_}; }
  std::span<float> Momentum() { return {shared_.data() + length_, length_}; }

  Learner& learner_;
  const DilocoOptions options_;
  const std::shared_ptr<const ModelCombiner> combiner_;  // null: mean by all-reduce
  const DilocoAttack attack_;
  const size_t length_;
  std::unique_ptr<collective::CollectiveGroup> group_;
  std::unique_ptr<collective::StateSync> sync_;
  std::vector<float> shared_;  // theta | m: the state the hashes cover
  std::vector<float> delta_;   // this peer's pseudo-gradient, then the aggregate
  std::vector<float> gathered_;
  std::vector<PeerId> gathered_from_;
  // diloco.delayed: theta at the start of this round's inner phase, and the
  // previous round's pseudo-gradient (reduced during this round's phase).
  std::vector<float> start_;
  std::vector<float> pending_;
  bool has_pending_ = false;
  bool compute_done_ = false;
  bool reduce_done_ = false;
  bool reduce_ok_ = false;
  uint64_t peak_bytes_ = 0;    // most bytes this peer sent in one exchange
  uint64_t aggregations_ = 0;  // seeds randomized rules, the same on every peer
  size_t contributors_ = 0;    // pseudo-gradients in the last aggregate
  double last_loss_ = 0;
  int64_t round_ = 0;
  bool done_ = false;
  bool computing_ = false;  // an inner phase runs on the learner
  DilocoRejoin rejoin_{"diloco", "diloco.check_state = true and diloco.delayed = false"};
};

}  // namespace murmur
