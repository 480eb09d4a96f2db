#include "murmur/protocol/sgp.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>

#include "murmur/core/check.h"
#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {
namespace {

// The hops peer i uses in `round`: 2^((t k + j) mod m), j = 0..k-1.
std::vector<int64_t> HopsOf(int64_t num_peers, int64_t out_peers, Round round) {
  const int64_t m = ExponentialGraphHops(num_peers);
  MURMUR_CHECK(out_peers >= 0 && out_peers <= m && round.value >= 1);
  const int64_t t = round.value - 1;
  std::vector<int64_t> hops;
  for (int64_t j = 0; j < out_peers; ++j) hops.push_back(int64_t{1} << ((t * out_peers + j) % m));
  return hops;
}

}  // namespace

int64_t ExponentialGraphHops(int64_t num_peers) {
  if (num_peers <= 1) return 0;
  return std::bit_width(static_cast<uint64_t>(num_peers - 1));
}

std::vector<PeerId> ExponentialOutPeers(PeerId self, int64_t num_peers, int64_t out_peers,
                                        Round round) {
  MURMUR_CHECK(self.value < num_peers);
  std::vector<PeerId> out;
  for (int64_t hop : HopsOf(num_peers, out_peers, round)) {
    out.push_back(PeerOf((self.value + hop) % num_peers));
  }
  return out;
}

std::vector<PeerId> ExponentialInPeers(PeerId self, int64_t num_peers, int64_t out_peers,
                                       Round round) {
  MURMUR_CHECK(self.value < num_peers);
  std::vector<PeerId> in;
  for (int64_t hop : HopsOf(num_peers, out_peers, round)) {
    in.push_back(PeerOf((self.value + num_peers - hop) % num_peers));
  }
  std::sort(in.begin(), in.end());
  return in;
}

SgpNode::SgpNode(Learner& learner, const SgpOptions& options, SgpSchedule schedule)
    : learner_(learner),
      options_(options),
      schedule_(std::move(schedule)),
      barrier_({.name = "sgp",
                .timeout = options_.round_timeout,
                .catch_up_gap = options_.catch_up_gap},
               [this](Round round) { return schedule_(round).in; }) {
  MURMUR_CHECK(schedule_ != nullptr);
}

void SgpNode::OnStart(Host& host) {
  // A restored node goes on from its saved x and w, and the round it
  // saved them at.
  if (!restored_) {
    const std::span<const float> z = learner_.params();
    x_.assign(z.begin(), z.end());
    w_ = 1.0;
  }
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
}

void SgpNode::StartRound(Host& host) {
  if (round_.value >= options_.rounds) {
    phase_ = Phase::kDone;
    return;
  }
  phase_ = Phase::kTraining;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_, uint64_t{round_.value}));
}

void SgpNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(phase_ == Phase::kTraining && tag == uint64_t{round_.value});
  if (CatchUpIfBehind(host)) return;
  const Round round = NextRound(round_);
  host.metrics().ReportTrainLoss(round, last_loss_);
  // The SGD step lands on the numerator: x += z_trained - z, where z = x / w
  // is exactly what Mix (or OnStart) wrote into the learner.
  const std::span<const float> z = learner_.params();
  for (size_t i = 0; i < x_.size(); ++i) {
    x_[i] += z[i] - static_cast<float>(static_cast<double>(x_[i]) / w_);
  }
  // An out-peer declared down gets no share: the share stays here, so the
  // mass of the peers up is conserved (sent, it would be lost).
  std::vector<PeerId> out = schedule_(round).out;
  const size_t scheduled = out.size();
  std::erase_if(out, [&](PeerId p) { return down_.count(p) != 0; });
  if (out.size() < scheduled) {
    host.metrics().Count("sgp.shares_kept_from_peers_down",
                         static_cast<int64_t>(scheduled - out.size()));
  }
  const auto shares = static_cast<float>(out.size() + 1);
  for (float& v : x_) v /= shares;
  w_ /= static_cast<double>(out.size() + 1);
  // Every out-neighbour gets the same share: one buffer (Host::SendShared).
  const SharedMessage share = EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, round,
                                                       std::bit_cast<uint64_t>(w_), x_);
  for (PeerId to : out) host.SendShared(to, share);
  phase_ = Phase::kWaiting;
  barrier_.Wait(host);
  MixIfComplete(host);
}

void SgpNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  Result<ModelMessage> message =
      DecodeModelMessage(bytes, ModelMessageKind::kDpsgdParams, learner_.params().size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const int64_t round = message->round.value;
  const double w = std::bit_cast<double>(message->weight);
  if (round < 1 || round > options_.rounds || !std::isfinite(w) || w <= 0) {
    host.ReportBadPeer(from, Status::Corrupt("SGP: share from peer ", from, " for round ",
                                             round, " with weight ", w));
    return;
  }
  const Arrival arrival =
      barrier_.Add(host.metrics(), message->round, from, std::move(message->params));
  if (arrival == Arrival::kStranger) {
    host.ReportBadPeer(from, Status::InvalidArgument("SGP: share from peer ", from,
                                                     ", which is no in-peer of round ", round));
    return;
  }
  down_.erase(from);  // it sends, so it is up
  if (arrival == Arrival::kBeyondWindow) {
    // The barrier keeps the sender's newest such share when the sender is
    // an in-peer of its round, and files it when the window reaches its
    // round: its weight must be there then. Kept the same way, one per
    // sender, so a sender cannot grow this map either.
    const std::vector<PeerId> in = schedule_(message->round).in;
    if (!std::binary_search(in.begin(), in.end(), from)) return;
    auto [it, inserted] = ahead_weights_.try_emplace(from, message->round, w);
    if (!inserted && it->second.first < message->round) it->second = {message->round, w};
  } else if (arrival == Arrival::kStored) {
    weights_[message->round][from] = w;
  } else {
    return;
  }
  // A peer that restarted, or fell behind, jumps to the others' round.
  if (phase_ == Phase::kWaiting && !CatchUpIfBehind(host)) MixIfComplete(host);
}

void SgpNode::FileAheadWeights() {
  // As RoundBarrier::FileAheadModels files the shares (the SGP barrier's
  // window is the default one).
  const Round open = barrier_.open_round();
  const int64_t window = RoundBarrierOptions{}.window;
  for (auto it = ahead_weights_.begin(); it != ahead_weights_.end();) {
    const auto [round, w] = it->second;
    if (round < open) {
      it = ahead_weights_.erase(it);
    } else if (static_cast<int64_t>(round.value) - open.value <= window) {
      weights_[round].try_emplace(it->first, w);
      it = ahead_weights_.erase(it);
    } else {
      ++it;
    }
  }
}

void SgpNode::OnPeerDown(Host& host, PeerId peer) {
  if (peer.value >= options_.num_peers) return;
  barrier_.MarkDown(peer);
  down_.insert(peer);
  host.metrics().Count("sgp.peers_down", 1);
  if (phase_ == Phase::kWaiting) MixIfComplete(host);
}

void SgpNode::OnPeerUp(Host& host, PeerId peer) {
  // Waited for again too: a round closed without its share would lose the
  // share's mass (it may be an in-peer before it sent this peer anything).
  barrier_.MarkUp(peer);
  if (down_.erase(peer) != 0) host.metrics().Count("sgp.peers_up", 1);
}

std::map<PeerId, std::pair<Round, double>> SgpNode::NewestWeights() const {
  std::map<PeerId, std::pair<Round, double>> newest;
  for (const auto& [round, by_peer] : weights_) {
    for (const auto& [peer, w] : by_peer) newest[peer] = {round, w};  // later rounds overwrite
  }
  for (const auto& [peer, kept] : ahead_weights_) newest[peer] = kept;
  return newest;
}

bool SgpNode::CatchUpIfBehind(Host& host) {
  if (phase_ == Phase::kDone) return false;
  const std::optional<Round> target = barrier_.CatchUpRound();
  if (!target.has_value() || target->value > options_.rounds) return false;
  // The senders' newest shares (the barrier keeps each sender's newest, as
  // weights_ and ahead_weights_ do) of the target round or later give the
  // model to start from; without a weight among them there is none.
  const std::map<PeerId, std::pair<Round, double>> newest = NewestWeights();
  double w_newest = 0;
  for (const auto& [peer, kept] : newest) w_newest += kept.first >= *target ? kept.second : 0;
  if (!(w_newest > 0)) return false;
  // The shares of the rounds the jump skips are dropped with their rounds;
  // their weight stays here (sent on, its mass would be lost) and is
  // re-centred below at the others' model with this peer's own.
  double skipped = 0;
  for (auto it = weights_.begin(); it != weights_.end() && it->first < *target; ++it) {
    for (const auto& [peer, w] : it->second) skipped += w;
  }
  const ArrivedModels adopted = barrier_.JumpTo(*target);
  FileAheadWeights();
  weights_.erase(weights_.begin(), weights_.lower_bound(*target));
  std::vector<double> x(x_.size(), 0.0);
  double w = 0;
  for (const auto& [peer, share] : adopted) {
    const auto kept = newest.find(peer);
    if (kept == newest.end() || kept->second.first < *target) continue;
    for (size_t i = 0; i < x.size(); ++i) x[i] += share[i];
    w += kept->second.second;
  }
  w_ += skipped;
  // This peer's own model is rounds old: it starts again from the senders'
  // de-biased average z = sum x / sum w, with its own weight (its mass now
  // sits at their average). Their shares of the rounds to come are mixed
  // as usual; those it adopted z from were copies.
  const std::span<float> z = learner_.params();
  for (size_t i = 0; i < x_.size(); ++i) {
    if (w > 0) z[i] = static_cast<float>(x[i] / w);
    x_[i] = static_cast<float>(static_cast<double>(z[i]) * w_);
  }
  host.metrics().Count("sgp.catch_ups", 1);
  round_ = Round(target->value - 1);
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
  return true;
}

void SgpNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kWaiting && barrier_.TimedOut(host.metrics(), timer)) Mix(host);
}

void SgpNode::MixIfComplete(Host& host) {
  if (barrier_.complete()) Mix(host);
}

void SgpNode::Mix(Host& host) {
  const Round round = barrier_.open_round();
  const ArrivedModels arrived = barrier_.Close();
  FileAheadWeights();
  const std::map<PeerId, double> weights = std::move(weights_[round]);
  weights_.erase(weights_.begin(), weights_.upper_bound(round));
  for (const auto& [peer, share] : arrived) {
    // Every share the barrier holds came with its weight, but for one
    // restored from a snapshot that does not say it (counted, left out).
    const auto weight = weights.find(peer);
    if (weight == weights.end()) {
      host.metrics().Count("sgp.unweighted_shares", 1);
      continue;
    }
    for (size_t i = 0; i < x_.size(); ++i) x_[i] += share[i];
    w_ += weight->second;
  }
  const std::span<float> z = learner_.params();
  for (size_t i = 0; i < x_.size(); ++i) {
    z[i] = static_cast<float>(static_cast<double>(x_[i]) / w_);
  }
  round_ = NextRound(round_);
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
}

}  // namespace murmur
