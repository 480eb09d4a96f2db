#include "murmur/protocol/streaming_diloco.h"

#include <algorithm>

#include "murmur/collective/collective_message.h"
#include "murmur/collective/group_events.h"
#include "murmur/collective/retry.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

std::vector<FragmentSync> FragmentSyncs(int64_t inner_steps, int64_t fragments,
                                        int64_t overlap_steps, int64_t total_steps) {
  MURMUR_CHECK(fragments >= 1 && fragments <= inner_steps && overlap_steps >= 0);
  std::vector<FragmentSync> syncs;
  for (int64_t p = 0; p < fragments; ++p) {
    const int64_t offset = p * inner_steps / fragments;
    for (int64_t t = offset == 0 ? inner_steps : offset; t <= total_steps; t += inner_steps) {
      syncs.push_back({.start = t, .apply = std::min(t + overlap_steps, total_steps),
                       .fragment = p});
    }
  }
  std::sort(syncs.begin(), syncs.end());
  return syncs;
}

std::pair<size_t, size_t> FragmentRange(size_t length, int64_t fragments, int64_t p) {
  const auto f = static_cast<size_t>(fragments);
  const auto q = static_cast<size_t>(p);
  return {length * q / f, length * (q + 1) / f};
}

StreamingDilocoNode::StreamingDilocoNode(Learner& learner, StreamingOptions options,
                                         std::span<const float> initial)
    : learner_(learner),
      options_(std::move(options)),
      length_(learner.params().size()),
      total_(options_.rounds * options_.inner_steps),
      syncs_(FragmentSyncs(options_.inner_steps, options_.streaming.fragments,
                           options_.streaming.overlap_steps, total_)),
      shared_(2 * length_, 0.0f) {
  MURMUR_CHECK(initial.size() == length_);
  std::copy(initial.begin(), initial.end(), shared_.begin());
  if (options_.streaming.error_feedback && options_.streaming.bits != 0) {
    residual_.assign(length_, 0.0f);
  }
}

void StreamingDilocoNode::OnStart(Host& host) {
  std::vector<PeerId> members;
  for (int64_t i = 0; i < options_.num_peers; ++i) members.push_back(PeerOf(i));
  sync_ = std::make_unique<collective::StateSync>(
      collective::StateSyncOptions{.timeout = options_.collective.timeout,
                                   .counter_prefix = "streaming.state_sync"},
      host.self());
  sync_->Serve(shared_);
  MURMUR_CHECK(!options_.rejoin || options_.streaming.outer.check_state);
  group_ = rejoin_.MakeGroup(options_.collective, host, std::move(members), options_.rejoin);
  if (options_.rejoin) return Rejoin(host);
  std::copy(Global().begin(), Global().end(), learner_.params().begin());
  Advance(host);
}

// Boundaries are the steps where an exchange starts or is applied, every
// multiple of H (reports, state checks) and the end.
void StreamingDilocoNode::Advance(Host& host) {
  if (advancing_ || computing_ || checking_ || resyncing_ || done_) return;
  advancing_ = true;
  while (true) {
    bool waiting = false;
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      InFlight& f = **it;
      if (f.sync.apply != step_) {
        ++it;
        continue;
      }
      if (!f.finished) {
        waiting = true;
        break;
      }
      ApplySync(host, f);
      it = in_flight_.erase(it);
    }
    if (waiting) break;
    const int64_t h = options_.inner_steps;
    // With an overlap, report and compare before this step's exchanges
    // start: none is in flight then (tau <= H / P), so theta and m are all
    // the state a joiner needs. (tau = 0 applies them at once: the report
    // waits for them, below.) Either way the state compared is the same.
    if (step_ % h == 0 && step_ / h > reported_round_ && ReportsBeforeStarting()) {
      ReportRound(host);
      if (checking_) break;
    }
    bool started = false;
    while (next_sync_ < syncs_.size() && syncs_[next_sync_].start == step_) {
      StartSync(host, syncs_[next_sync_++]);
      started = true;
    }
    if (started) continue;  // tau = 0: apply now, or wait for the exchange
    if (step_ % h == 0 && step_ / h > reported_round_) {
      ReportRound(host);
      if (checking_) break;
    }
    if (step_ >= total_) {
      done_ = true;
      break;
    }
    int64_t stop = std::min(total_, (step_ / h + 1) * h);
    if (next_sync_ < syncs_.size()) stop = std::min(stop, syncs_[next_sync_].start);
    for (const auto& f : in_flight_) stop = std::min(stop, f->sync.apply);
    MURMUR_CHECK(stop > step_);
    next_stop_ = stop;
    computing_ = true;
    host.RunCompute(TrainTask(learner_, stop - step_, &last_loss_, uint64_t(stop)));
    break;
  }
  advancing_ = false;
}

void StreamingDilocoNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(computing_ && tag == uint64_t(next_stop_));
  computing_ = false;
  if (rejoin_.TakeRejoinAfterCompute()) {
    // Evicted during these inner steps: they are not the group's.
    if (!done_) Rejoin(host);
    return;
  }
  step_ = next_stop_;
  Advance(host);
}

// delta_p = theta_p - local_p, averaged by the quantized all-reduce while
// the next tau inner steps run.
void StreamingDilocoNode::StartSync(Host& host, const FragmentSync& sync) {
  const auto [begin, end] = FragmentRange(length_, options_.streaming.fragments, sync.fragment);
  auto flight = std::make_unique<InFlight>();
  InFlight* f = flight.get();
  f->sync = sync;
  f->buffer.resize(end - begin);
  const std::span<const float> local = learner_.params();
  for (size_t i = begin; i < end; ++i) f->buffer[i - begin] = shared_[i] - local[i];
  f->bytes_before = group_->bytes_sent();
  in_flight_.push_back(std::move(flight));
  collective::Quantization q{.bits = static_cast<uint8_t>(options_.streaming.bits)};
  if (!residual_.empty()) q.residual = std::span<float>(residual_).subspan(begin, end - begin);
  collective::AllReduceWithRetry(
      *group_, host, f->buffer, collective::ReduceOp::kAverage, q, options_.max_attempts,
      [this, f, gen = Generation()](Host& h, const Status& status) {
        // Evicted: the exchange is dropped (AfterEvent).
        if (!Current(gen)) return;
        f->finished = true;
        f->ok = status.ok();
        if (!status.ok()) h.metrics().Count("streaming.failed_exchanges", 1);
        const uint64_t bytes = group_->bytes_sent() - f->bytes_before;
        if (bytes > peak_bytes_) {
          h.metrics().Count("streaming.peak_exchange_bytes", int64_t(bytes - peak_bytes_));
          peak_bytes_ = bytes;
        }
        Advance(h);
      });
}

// The outer step on theta_p and m_p, then local_p = alpha local_p +
// (1 - alpha) theta_p. A failed exchange moves theta nowhere; the merge
// still pulls the local fragment toward theta, as DiLoCo resets it.
void StreamingDilocoNode::ApplySync(Host& host, InFlight& f) {
  const auto [begin, end] = FragmentRange(length_, options_.streaming.fragments, f.sync.fragment);
  const std::span<float> theta = Global().subspan(begin, end - begin);
  if (f.ok) {
    const DilocoConfig& outer = options_.streaming.outer;
    OuterSgdStep(theta, Momentum().subspan(begin, end - begin), f.buffer, outer.outer_lr,
                 outer.outer_momentum, outer.nesterov);
    host.metrics().Count("streaming.outer_steps", 1);
  }
  const auto alpha = static_cast<float>(options_.streaming.mix);
  const std::span<float> local = learner_.params().subspan(begin, end - begin);
  for (size_t i = 0; i < local.size(); ++i) local[i] = alpha * local[i] + (1 - alpha) * theta[i];
}

void StreamingDilocoNode::ReportRound(Host& host) {
  reported_round_ = step_ / options_.inner_steps;
  if (reported_round_ > 0) host.metrics().ReportTrainLoss(RoundOf(reported_round_), last_loss_);
  host.metrics().ReportModel(RoundOf(reported_round_), Global());
  if (reported_round_ == 0 || !options_.streaming.outer.check_state) return;
  // A restarted peer's Join waits for the members' next agreement: take
  // it here, so that the joiner is among the members this step's hashes go
  // to and takes part in the exchanges from this step on (as DiLoCo's
  // FinishRound).
  if (group_->has_pending_joins() || group_->agreeing()) {
    checking_ = true;
    return group_->AgreeMembership(host, [this, gen = Generation()](Host& h, const Status&) {
      if (Current(gen)) CheckState(h);
    });
  }
  CheckState(host);
}

void StreamingDilocoNode::CheckState(Host& host) {
  checking_ = true;
  const collective::StateDigest mine = collective::HashState(shared_);
  sync_->Compare(
      host, static_cast<uint32_t>(reported_round_), group_->members(), mine,
      [this, gen = Generation()](Host& h, const Status& status, const collective::Comparison& c) {
        if (!Current(gen)) return;
        if (!status.ok()) h.metrics().Count("streaming.state_no_majority", 1);
        if (!status.ok() || c.agrees) {
          checking_ = false;
          return Advance(h);
        }
        h.metrics().Count("streaming.state_mismatches", 1);
        sync_->Pull(h, c.holders, c.majority, shared_, [this, gen](Host& h2,
                                                                  const Status& pulled) {
          if (!Current(gen)) return;
          if (pulled.ok()) {
            h2.metrics().Count("streaming.state_resyncs", 1);
            std::copy(Global().begin(), Global().end(), learner_.params().begin());
          }
          checking_ = false;
          Advance(h2);
        });
      });
}

bool StreamingDilocoNode::ReportsBeforeStarting() const {
  return options_.streaming.overlap_steps > 0 && step_ < total_;
}

void StreamingDilocoNode::Rejoin(Host& host) {
  resyncing_ = true;
  group_->AgreeMembership(host, [this, gen = Generation()](Host& h, const Status&) {
    if (Current(gen)) Resync(h, 0);
  });
}

// Admitted: the members compare the hashes of the outer step they just
// reached with this peer among them (ReportRound agrees first), so their
// digests name the step and the state (DiLoCo's Resync, diloco.md).
void StreamingDilocoNode::Resync(Host& host, uint32_t min_step) {
  sync_->AwaitMajority(host, group_->members(), min_step, [this, min_step, gen = Generation()](
                                                              Host& h, const Status& status,
                                                              const collective::Comparison& c) {
    if (!Current(gen)) return;
    if (!status.ok()) {
      h.metrics().Count("streaming.state_no_majority", 1);
      return Resync(h, min_step);
    }
    sync_->Pull(h, c.holders, c.majority, shared_, [this, c, gen](Host& h2, const Status& pulled) {
      if (!Current(gen)) return;
      // E.g. the holders applied an exchange since: take a later step's.
      if (!pulled.ok()) return Resync(h2, c.step + 1);
      h2.metrics().Count("streaming.state_resyncs", 1);
      h2.metrics().Count("streaming.rejoins", 1);
      AdoptRound(h2, c.step);
      sync_->Publish(h2, c.step, group_->members(), c.majority);
      Advance(h2);
    });
  });
}

void StreamingDilocoNode::AdoptRound(Host& host, int64_t round) {
  step_ = round * options_.inner_steps;
  reported_round_ = round;
  in_flight_.clear();
  // The members compared before starting this step's exchanges (overlap),
  // or after applying them (tau = 0): this peer takes part from there on.
  const bool before = ReportsBeforeStarting();
  next_sync_ = static_cast<size_t>(
      std::find_if(syncs_.begin(), syncs_.end(), [&](const FragmentSync& f) {
        return before ? f.start >= step_ : f.start > step_;
      }) - syncs_.begin());
  std::copy(Global().begin(), Global().end(), learner_.params().begin());
  std::fill(residual_.begin(), residual_.end(), 0.0f);  // its own error feedback starts anew
  checking_ = false;
  resyncing_ = false;
  host.metrics().ReportModel(RoundOf(round), Global());
}

void StreamingDilocoNode::AfterEvent(Host& host) {
  const DilocoRejoin::Action action = rejoin_.AfterEvent(
      host, *group_, *sync_, done_, options_.streaming.outer.check_state, computing_);
  if (action == DilocoRejoin::Action::kNone) return;
  in_flight_.clear();  // their operations ended with the eviction
  checking_ = false;
  resyncing_ = true;
  if (action == DilocoRejoin::Action::kStop) done_ = true;
  if (action == DilocoRejoin::Action::kRejoin) Rejoin(host);
}

void StreamingDilocoNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) {
  if (group_ == nullptr) return;
  if (!collective::RouteGroupMessage(*group_, *sync_, host, from, message)) {
    host.ReportBadPeer(from, collective::NotACollectiveMessage("Streaming DiLoCo", from, message));
  }
  AfterEvent(host);
}

void StreamingDilocoNode::OnTimer(Host& host, TimerId timer) {
  if (group_ == nullptr) return;
  collective::RouteGroupTimer(*group_, *sync_, host, timer);
  AfterEvent(host);
}

void StreamingDilocoNode::OnPeerDown(Host& host, PeerId peer) {
  if (group_ == nullptr) return;
  collective::RouteGroupPeerDown(*group_, *sync_, host, peer);
  AfterEvent(host);
}

}  // namespace murmur
