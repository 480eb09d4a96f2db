#include "murmur/protocol/spsa.h"

#include <algorithm>

#include "murmur/protocol/spsa_message.h"

namespace murmur {

SpsaNode::SpsaNode(Learner& learner, const SpsaOptions& options)
    : learner_(learner), options_(options), down_(static_cast<size_t>(options.num_peers), false) {
  MURMUR_CHECK(options_.num_peers >= 1);
  MURMUR_CHECK(options_.eps > 0 && options_.clip > 0);
}

PerturbationKey SpsaNode::KeyFor(PeerId peer, int64_t step) const {
  return PerturbationKey{.seed = options_.seed,
                         .stream = peer.value,
                         .step = static_cast<uint64_t>(step),
                         .purpose = RngPurpose::kSpsaPerturbation,
                         .noise = options_.noise};
}

void SpsaNode::OnStart(Host& host) {
  self_ = host.self();
  host.metrics().ReportModel(Round(0), learner_.params());
  StartStep(host);
}

void SpsaNode::StartStep(Host& host) {
  if (step_ >= options_.rounds) {
    phase_ = Phase::kDone;
    return;
  }
  phase_ = Phase::kComputing;
  Learner* learner = &learner_;
  SpsaEstimate* out = &estimate_;
  const PerturbationKey key = KeyFor(self_, step_);
  const float eps = options_.eps;
  host.RunCompute(ComputeTask{.flops = learner_.SpsaFlops(1),
                              .work = [learner, out, key, eps] {
                                *out = learner->EstimateSpsa(key, eps);
                              },
                              .tag = static_cast<uint64_t>(step_)});
}

void SpsaNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(phase_ == Phase::kComputing && tag == static_cast<uint64_t>(step_));
  host.metrics().ReportTrainLoss(RoundOf(step_ + 1), estimate_.loss);
  const double g = estimate_.projected_grad;
  if (std::abs(g) > options_.clip) host.metrics().Count("spsa.clipped", 1);
  const int8_t q = QuantizeProjectedGrad(g, options_.clip, host.rng().Uniform());
  inbox_[step_][self_] = q;
  const std::vector<uint8_t> bytes =
      EncodeSpsaUpdate(SpsaUpdate{.step = static_cast<uint32_t>(step_), .q = q});
  for (uint32_t j = 0; j < options_.num_peers; ++j) {
    if (PeerId(j) != self_) host.Send(PeerId(j), bytes);
  }
  phase_ = Phase::kWaiting;
  if (options_.round_timeout.ns > 0) timeout_timer_ = host.StartTimer(options_.round_timeout);
  ApplyIfComplete(host);
}

void SpsaNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (from.value >= options_.num_peers || from == self_) {
    host.ReportBadPeer(from, Status::InvalidArgument("SPSA frame from peer ", from,
                                                     ", which is not another peer of the run"));
    return;
  }
  Result<SpsaMessageKind> kind = PeekSpsaKind(bytes);
  if (!kind.ok()) {
    host.ReportBadPeer(from, kind.status());
    return;
  }
  switch (*kind) {
    case SpsaMessageKind::kSpsaUpdate:
      OnUpdate(host, from, bytes);
      return;
    case SpsaMessageKind::kSpsaModelRequest: {
      Result<uint32_t> step = DecodeSpsaModelRequest(bytes);
      if (!step.ok()) {
        host.ReportBadPeer(from, step.status());
        return;
      }
      // One model per requester per step: a request is 5 bytes, a reply
      // 4 D, so unlimited serving would let a peer amplify traffic.
      auto [served, first] = served_at_.emplace(from.value, step_);
      if (!first && served->second == step_) {
        host.metrics().Count("spsa.requests_refused", 1);
        return;
      }
      served->second = step_;
      // The running estimate only reads the parameters, so they can be
      // copied out at any time.
      host.Send(from, EncodeSpsaModelReply(static_cast<uint32_t>(step_), learner_.params()));
      host.metrics().Count("spsa.models_served", 1);
      return;
    }
    case SpsaMessageKind::kSpsaModelReply: {
      Result<SpsaModelReply> reply = DecodeSpsaModelReply(bytes, learner_.params().size());
      if (!reply.ok()) {
        host.ReportBadPeer(from, reply.status());
        return;
      }
      if (needs_sync_) adopted_.emplace(reply->step, std::move(reply->params));
      return;
    }
    default:
      host.ReportBadPeer(from, Status::Corrupt("SPSA: unexpected frame kind ",
                                               +static_cast<uint8_t>(*kind)));
  }
}

void SpsaNode::OnUpdate(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  Result<SpsaUpdate> update = DecodeSpsaUpdate(bytes);
  if (!update.ok()) {
    host.ReportBadPeer(from, update.status());
    return;
  }
  const int64_t s = update->step;
  if (s >= options_.rounds) {
    host.ReportBadPeer(from, Status::Corrupt("SPSA update for step ", s, " of a ",
                                             options_.rounds, "-step run"));
    return;
  }
  // Up and in step again: waited for from now on (a peer that restarted
  // sends stale steps until it adopted a model; each would cost a timeout).
  if (s >= step_) down_[from.value] = false;
  if (s < step_) {
    auto applied = applied_.find(s);
    if (s < adopted_below_ || s < step_ - kLateWindow || applied == applied_.end()) {
      host.metrics().Count("spsa.stale_updates", 1);
      return;
    }
    if (applied->second[from.value]) {
      host.metrics().Count("spsa.duplicate_updates", 1);
      return;
    }
    host.metrics().Count("spsa.late_updates", 1);
  }
  auto [it, inserted] = inbox_[s].emplace(from, update->q);
  if (!inserted) {
    host.metrics().Count("spsa.duplicate_updates", 1);
    return;
  }
  if (phase_ == Phase::kWaiting && s == step_) ApplyIfComplete(host);
}

void SpsaNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kWaiting && timer == timeout_timer_) {
    host.metrics().Count("spsa.round_timeouts", 1);
    Apply(host);
  }
}

void SpsaNode::OnPeerDown(Host& host, PeerId peer) {
  if (peer.value >= options_.num_peers || peer == self_) return;
  down_[peer.value] = true;
  host.metrics().Count("spsa.peers_down", 1);
  if (phase_ == Phase::kWaiting) ApplyIfComplete(host);
}

// Complete when every peer up has sent its update for the step.
void SpsaNode::ApplyIfComplete(Host& host) {
  auto it = inbox_.find(step_);
  if (it == inbox_.end()) return;
  for (uint32_t j = 0; j < options_.num_peers; ++j) {
    if (!down_[j] && !it->second.contains(PeerId(j))) return;
  }
  Apply(host);
}

void SpsaNode::Apply(Host& host) {
  // A model fetched from another peer replaces ours when both count the same
  // steps; what we hold for later steps still applies on top.
  if (adopted_ && adopted_->first == step_) {
    std::copy(adopted_->second.begin(), adopted_->second.end(), learner_.params().begin());
    adopted_.reset();
    needs_sync_ = false;
    sync_attempts_ = 0;
    adopted_below_ = step_;
    inbox_.erase(inbox_.begin(), inbox_.lower_bound(step_));
    applied_.clear();
    host.metrics().Count("spsa.models_adopted", 1);
  } else if (adopted_ && adopted_->first < step_) {
    adopted_.reset();  // stale: ask again below
  }
  const float unit = static_cast<float>(options_.lr / static_cast<double>(options_.num_peers));
  int64_t heard = 0;
  PeerId source((self_.value + 1) % static_cast<uint32_t>(options_.num_peers));
  bool source_set = false;
  for (auto it = inbox_.begin(); it != inbox_.end() && it->first <= step_;) {
    const int64_t s = it->first;
    std::vector<bool>& applied = applied_[s];
    applied.resize(static_cast<size_t>(options_.num_peers), false);
    for (const auto& [peer, q] : it->second) {
      const auto scale =
          static_cast<float>(-static_cast<double>(unit) * DequantizeProjectedGrad(q, options_.clip));
      learner_.AddPerturbation(scale, KeyFor(peer, s));
      applied[peer.value] = true;
      if (s == step_ && peer != self_) {
        ++heard;
        if (!source_set) source = peer;
        source_set = true;
      }
    }
    it = inbox_.erase(it);
  }
  ++step_;
  applied_.erase(applied_.begin(), applied_.lower_bound(step_ - kLateWindow));
  host.metrics().ReportModel(RoundOf(step_), learner_.params());

  const int64_t others = options_.num_peers - 1;
  if (others >= 2 && 2 * heard < others) needs_sync_ = true;
  if (needs_sync_ && !adopted_) {
    if (!source_set) {
      // Heard from nobody: try the peers after us in turn.
      source = PeerOf((self_.value + 1 + sync_attempts_ % others) %
                                            options_.num_peers);
    }
    ++sync_attempts_;
    host.Send(source, EncodeSpsaModelRequest(static_cast<uint32_t>(step_)));
    host.metrics().Count("spsa.sync_requests", 1);
  }
  StartStep(host);
}

}  // namespace murmur
