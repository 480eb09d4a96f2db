#include "murmur/protocol/diloco.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "murmur/collective/all_gather.h"
#include "murmur/collective/collective_message.h"
#include "murmur/collective/group_events.h"
#include "murmur/collective/retry.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

void OuterSgdStep(std::span<float> theta, std::span<float> momentum, std::span<const float> g,
                  double lr, double mu, bool nesterov, double gap_penalty, double momentum_clip) {
  MURMUR_CHECK(theta.size() == momentum.size() && theta.size() == g.size());
  MURMUR_CHECK(gap_penalty > 0);
  const auto lr_f = static_cast<float>(lr);
  const auto mu_f = static_cast<float>(mu);
  // Penalty 1 and no clip multiply by 1 and clamp to +-infinity: DiLoCo's
  // step, bit for bit (NeutralCo2OptionsGiveDilocosStepExactly).
  const auto scale = static_cast<float>(1.0 / gap_penalty);
  const auto clip = static_cast<float>(momentum_clip > 0 ? momentum_clip : INFINITY);
  for (size_t i = 0; i < theta.size(); ++i) {
    const float gi = g[i] * scale;
    momentum[i] = std::clamp(mu_f * momentum[i] + gi, -clip, clip);
    theta[i] -= lr_f * (nesterov ? gi + mu_f * momentum[i] : momentum[i]);
  }
}

DilocoNode::DilocoNode(Learner& learner, DilocoOptions options, std::span<const float> initial,
                       std::shared_ptr<const ModelCombiner> combiner, DilocoAttack attack)
    : learner_(learner),
      options_(std::move(options)),
      combiner_(combiner != nullptr && !combiner->is_plain_average() ? std::move(combiner)
                                                                      : nullptr),
      attack_(attack),
      length_(learner.params().size()),
      shared_(2 * length_, 0.0f),
      delta_(length_) {
  MURMUR_CHECK(initial.size() == length_);
  std::copy(initial.begin(), initial.end(), shared_.begin());
  if (options_.outer.delayed) pending_.resize(length_);
}

void DilocoNode::OnStart(Host& host) {
  std::vector<PeerId> members;
  for (int64_t i = 0; i < options_.num_peers; ++i) members.push_back(PeerOf(i));
  sync_ = std::make_unique<collective::StateSync>(
      collective::StateSyncOptions{.timeout = options_.collective.timeout,
                                   .counter_prefix = "diloco.state_sync"},
      host.self());
  sync_->Serve(shared_);
  MURMUR_CHECK(!options_.rejoin || (options_.outer.check_state && !options_.outer.delayed));
  group_ = rejoin_.MakeGroup(options_.collective, host, std::move(members), options_.rejoin);
  if (options_.rejoin) return Rejoin(host);
  std::copy(Global().begin(), Global().end(), learner_.params().begin());
  if (attack_.kind == AttackKind::kNone) host.metrics().ReportModel(Round(0), Global());
  StartRound(host);
}

// Admitted: the members compare their hashes of the step they just ended
// with this peer among them (FinishRound agrees before it compares), so
// their digests name the step and the state; pull it from its holders and
// tell them this peer holds it too, then train the next outer step.
void DilocoNode::Resync(Host& host, uint32_t min_step, bool rejoin) {
  const uint64_t gen = Generation();
  sync_->AwaitMajority(host, group_->members(), min_step, [this, min_step, rejoin, gen](
                                                              Host& h, const Status& status,
                                                              const collective::Comparison& c) {
    if (!Current(gen)) return;  // evicted meanwhile: a newer Rejoin resyncs
    if (!status.ok()) {
      h.metrics().Count("diloco.state_no_majority", 1);
      return Resync(h, min_step, rejoin);
    }
    sync_->Pull(h, c.holders, c.majority, shared_, [this, c, rejoin, gen](Host& h2,
                                                                          const Status& pulled) {
      if (!Current(gen)) return;
      // E.g. a holder moved on: wait for the hashes of a later step.
      if (!pulled.ok()) return Resync(h2, c.step + 1, rejoin);
      h2.metrics().Count("diloco.state_resyncs", 1);
      if (rejoin) h2.metrics().Count("diloco.rejoins", 1);
      round_ = c.step;
      aggregations_ = c.step;  // the members' count when no step failed
      std::copy(Global().begin(), Global().end(), learner_.params().begin());
      if (attack_.kind == AttackKind::kNone) h2.metrics().ReportModel(RoundOf(round_), Global());
      sync_->Publish(h2, c.step, group_->members(), c.majority);
      StartRound(h2);
    });
  });
}

void DilocoNode::StartRound(Host& host) {
  if (round_ >= options_.rounds) {
    done_ = true;
    return;
  }
  computing_ = true;
  host.RunCompute(TrainTask(learner_, options_.inner_steps, &last_loss_, uint64_t(round_)));
  if (!options_.outer.delayed) return;
  // The inner phase runs from theta while the previous round's
  // pseudo-gradient is reduced: communication overlaps compute.
  start_.assign(Global().begin(), Global().end());
  compute_done_ = false;
  reduce_done_ = !has_pending_;
  reduce_ok_ = false;
  if (!has_pending_) return;
  Aggregate(host, &pending_, [this, gen = Generation()](Host& h, bool ok) {
    if (!Current(gen)) return;
    reduce_done_ = true;
    reduce_ok_ = ok;
    MaybeFinishDelayedRound(h);
  });
}

void DilocoNode::OnComputeDone(Host& host, uint64_t tag) {
  computing_ = false;
  if (rejoin_.TakeRejoinAfterCompute()) {
    // Evicted during this inner phase: its result is not the group's.
    if (!done_) Rejoin(host);
    return;
  }
  MURMUR_CHECK(tag == uint64_t(round_) && !done_);
  if (attack_.kind == AttackKind::kNone) {
    host.metrics().ReportTrainLoss(RoundOf(round_ + 1), last_loss_);
  }
  if (options_.outer.delayed) {
    compute_done_ = true;
    return MaybeFinishDelayedRound(host);
  }
  PseudoGradient(host, Global(), delta_);
  Aggregate(host, &delta_, [this, gen = Generation()](Host& h, bool ok) {
    if (!Current(gen)) return;
    if (ok) ApplyOuterStep(h, delta_);
    FinishRound(h);
  });
}

void DilocoNode::PseudoGradient(Host& host, std::span<const float> start, std::span<float> out) {
  const std::span<const float> local = learner_.params();
  for (size_t i = 0; i < length_; ++i) out[i] = start[i] - local[i];
  if (attack_.kind == AttackKind::kSignFlip) {
    const auto scale = static_cast<float>(-attack_.scale);
    for (float& d : out) d *= scale;
  } else if (attack_.kind == AttackKind::kGaussian) {
    for (float& d : out) d = static_cast<float>(attack_.sigma * host.rng().Normal());
  }
}

void DilocoNode::Aggregate(Host& host, std::vector<float>* buffer,
                           std::function<void(Host&, bool)> outer_done) {
  // The busiest exchange's bytes, for the peak-bandwidth comparison with
  // Streaming DiLoCo (counter diloco.peak_exchange_bytes, summed over peers).
  const uint64_t before = group_->bytes_sent();
  auto done = [this, before, outer_done](Host& h, bool ok) {
    // How many peers' pseudo-gradients this outer step averaged (summed
    // over the steps: a run's membership, seen from this peer).
    if (ok) h.metrics().Count("diloco.aggregated_peers", static_cast<int64_t>(contributors_));
    const uint64_t bytes = group_->bytes_sent() - before;
    if (bytes > peak_bytes_) {
      h.metrics().Count("diloco.peak_exchange_bytes", static_cast<int64_t>(bytes - peak_bytes_));
      peak_bytes_ = bytes;
    }
    outer_done(h, ok);
  };
  if (combiner_ == nullptr) {
    collective::AllReduceWithRetry(
        *group_, host, *buffer, collective::ReduceOp::kAverage, options_.max_attempts,
        [this, done](Host& h, const Status& status) {
          // Every attempt failed (or the call was malformed): theta stays, and
          // the state check repairs a peer whose view of the outcome differs.
          // (Not for an eviction: that round is dropped, not failed.)
          if (!status.ok() && !rejoin_.Unhandled(*group_)) {
            h.metrics().Count("diloco.failed_steps", 1);
          }
          contributors_ = group_->members().size();
          done(h, status.ok());
        });
    return;
  }
  collective::AllGatherWithRetry(
      *group_, host, *buffer, &gathered_, &gathered_from_, options_.max_attempts,
      [this, buffer, done](Host& h, const Status& status) {
        if (!status.ok()) {
          if (!rejoin_.Unhandled(*group_)) h.metrics().Count("diloco.failed_steps", 1);
          return done(h, false);
        }
        contributors_ = gathered_from_.size();
        std::vector<std::span<const float>> inputs;
        for (size_t k = 0; k < gathered_from_.size(); ++k) {
          inputs.emplace_back(gathered_.data() + k * length_, length_);
        }
        // Relative to a zero reference the combiner returns Rule(deltas); one
        // generator per aggregation, the same on every peer, keeps them
        // identical.
        std::fill(buffer->begin(), buffer->end(), 0.0f);
        Rng rng = Rng::ForStep(options_.seed, PeerId(0), RngPurpose::kProtocol, aggregations_++);
        const Status combined =
            combiner_->Combine(*buffer, inputs, OwnModel::kReferenceOnly, {}, rng);
        if (!combined.ok()) h.metrics().Count("robust.failed_aggregations", 1);
        done(h, combined.ok());
      });
}

void DilocoNode::ApplyOuterStep(Host& host, std::span<const float> aggregate) {
  OuterSgdStep(Global(), Momentum(), aggregate, options_.outer.outer_lr,
               options_.outer.outer_momentum, options_.outer.nesterov,
               options_.outer.gap_penalty, options_.outer.momentum_clip);
  host.metrics().Count("diloco.outer_steps", 1);
}

// One-step delay: this round's inner phase ran from `start_` while the
// previous round's pseudo-gradient was being reduced; once both are done
// that aggregate moves theta, and this round's pseudo-gradient waits for the
// next round's reduce (the last round reduces it at once, so the run ends
// with every inner phase applied).
void DilocoNode::MaybeFinishDelayedRound(Host& host) {
  if (!compute_done_ || !reduce_done_) return;
  if (has_pending_ && reduce_ok_) ApplyOuterStep(host, pending_);
  PseudoGradient(host, start_, pending_);
  has_pending_ = true;
  if (round_ + 1 < options_.rounds) return FinishRound(host);
  Aggregate(host, &pending_, [this, gen = Generation()](Host& h, bool ok) {
    if (!Current(gen)) return;
    if (ok) ApplyOuterStep(h, pending_);
    has_pending_ = false;
    FinishRound(h);
  });
}

void DilocoNode::FinishRound(Host& host) {
  ++round_;
  std::copy(Global().begin(), Global().end(), learner_.params().begin());
  if (attack_.kind == AttackKind::kNone) host.metrics().ReportModel(RoundOf(round_), Global());
  if (!options_.outer.check_state) return StartRound(host);
  // A restarted peer's Join waits for the members' next agreement: hold it
  // here, between outer steps, so that the joiner is among the members the
  // hashes of this step go to (it learns the step and the state from them)
  // and takes part in the next all-reduce. Also wait for an agreement
  // another member started for that reason.
  if (group_->has_pending_joins() || group_->agreeing()) {
    return group_->AgreeMembership(host, [this, gen = Generation()](Host& h, const Status&) {
      if (Current(gen)) CheckState(h);
    });
  }
  CheckState(host);
}

void DilocoNode::CheckState(Host& host) {
  const collective::StateDigest mine = collective::HashState(shared_);
  sync_->Compare(
      host, static_cast<uint32_t>(round_), group_->members(), mine,
      [this, gen = Generation()](Host& h, const Status& status, const collective::Comparison& c) {
        if (!Current(gen)) return;
        if (!status.ok()) {
          h.metrics().Count("diloco.state_no_majority", 1);
          return StartRound(h);
        }
        if (c.agrees) return StartRound(h);
        h.metrics().Count("diloco.state_mismatches", 1);
        sync_->Pull(h, c.holders, c.majority, shared_, [this, c, gen](Host& h2,
                                                                     const Status& pulled) {
          if (!Current(gen)) return;
          if (pulled.ok()) {
            h2.metrics().Count("diloco.state_resyncs", 1);
            std::copy(Global().begin(), Global().end(), learner_.params().begin());
            return StartRound(h2);
          }
          // The holders moved on (this peer is a step behind them) or were
          // lost: training on would keep a state the group does not hold,
          // step after step. Take the state of a later step instead, as a
          // joiner does (with the delay, the pending pseudo-gradient is not
          // part of the pulled state: train on, the next check repairs).
          h2.metrics().Count("diloco.failed_resyncs", 1);
          if (options_.outer.delayed) return StartRound(h2);
          Resync(h2, c.step + 1, /*rejoin=*/false);
        });
      });
}

void DilocoNode::Rejoin(Host& host) {
  group_->AgreeMembership(host, [this, gen = Generation()](Host& h, const Status&) {
    if (Current(gen)) Resync(h, 0, /*rejoin=*/true);
  });
}

void DilocoNode::AfterEvent(Host& host) {
  const bool can_resync = options_.outer.check_state && !options_.outer.delayed;
  const DilocoRejoin::Action action =
      rejoin_.AfterEvent(host, *group_, *sync_, done_, can_resync, computing_);
  if (action == DilocoRejoin::Action::kNone) return;
  has_pending_ = false;  // the round in flight is dropped (docs/protocols/diloco.md)
  if (action == DilocoRejoin::Action::kStop) done_ = true;
  if (action == DilocoRejoin::Action::kRejoin) Rejoin(host);
}

void DilocoNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) {
  if (group_ == nullptr) return;
  if (!collective::RouteGroupMessage(*group_, *sync_, host, from, message)) {
    host.ReportBadPeer(from, collective::NotACollectiveMessage("DiLoCo", from, message));
  }
  AfterEvent(host);
}

void DilocoNode::OnTimer(Host& host, TimerId timer) {
  if (group_ == nullptr) return;
  collective::RouteGroupTimer(*group_, *sync_, host, timer);
  AfterEvent(host);
}

void DilocoNode::OnPeerDown(Host& host, PeerId peer) {
  if (group_ == nullptr) return;
  collective::RouteGroupPeerDown(*group_, *sync_, host, peer);
  AfterEvent(host);
}

}  // namespace murmur
