#include "murmur/protocol/epidemic.h"

#include <algorithm>
#include <cstdint>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

std::vector<PeerId> EpidemicTargets(uint64_t seed, PeerId sender, int64_t round,
                                    int64_t fanout, int64_t num_peers) {
  MURMUR_CHECK(round >= 1 && round < (int64_t{1} << 24) && fanout < num_peers);
  // Step 0 of (seed, peer, kProtocol) is the peer's own protocol stream.
  Rng rng = Rng::ForStep(seed, sender, RngPurpose::kProtocol, static_cast<uint64_t>(round));
  // Floyd's sampling of `fanout` distinct values of [0, num_peers - 1), then
  // shifted past the sender: O(fanout) work, so every peer can afford to
  // regenerate every other peer's targets.
  const auto n = static_cast<uint64_t>(num_peers - 1);
  std::vector<PeerId> out;
  out.reserve(static_cast<size_t>(fanout));
  for (uint64_t j = n - static_cast<uint64_t>(fanout); j < n; ++j) {
    const uint64_t t = rng.UniformInt(j + 1);
    const uint32_t pick = static_cast<uint32_t>(
        std::find(out.begin(), out.end(), PeerId(static_cast<uint32_t>(t))) == out.end() ? t : j);
    out.push_back(PeerId(pick));
  }
  for (PeerId& p : out) {
    if (p.value >= sender.value) p = PeerId(p.value + 1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

EpidemicNode::EpidemicNode(Learner& learner, const EpidemicOptions& options)
    : learner_(learner), options_(options) {
  MURMUR_CHECK(options_.fanout >= 1 && options_.fanout < options_.num_peers);
}

std::vector<PeerId> EpidemicNode::SendersTo(PeerId self, int64_t round) const {
  std::vector<PeerId> senders;
  for (int64_t j = 0; j < options_.num_peers; ++j) {
    const PeerId peer(static_cast<uint32_t>(j));
    if (peer == self) continue;
    const std::vector<PeerId> targets =
        EpidemicTargets(options_.seed, peer, round, options_.fanout, options_.num_peers);
    if (std::binary_search(targets.begin(), targets.end(), self)) senders.push_back(peer);
  }
  return senders;
}

void EpidemicNode::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), learner_.params());
  StartRound(host);
}

void EpidemicNode::StartRound(Host& host) {
  if (round_ >= options_.rounds) {
    phase_ = Phase::kDone;
    return;
  }
  phase_ = Phase::kTraining;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            static_cast<uint64_t>(round_)));
}

void EpidemicNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(phase_ == Phase::kTraining && tag == static_cast<uint64_t>(round_));
  const int64_t round = round_ + 1;
  host.metrics().ReportTrainLoss(Round(static_cast<uint32_t>(round)), last_loss_);
  const auto frame = EncodeModelMessage(ModelMessageKind::kDpsgdParams,
                                        Round(static_cast<uint32_t>(round)), 0,
                                        learner_.params());
  for (PeerId to : EpidemicTargets(options_.seed, host.self(), round, options_.fanout,
                                   options_.num_peers)) {
    host.Send(to, frame);
  }
  expected_ = SendersTo(host.self(), round);
  phase_ = Phase::kWaiting;
  if (options_.round_timeout.ns > 0) timeout_timer_ = host.StartTimer(options_.round_timeout);
  MixIfComplete(host);
}

void EpidemicNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  Result<ModelMessage> message = DecodeModelMessage(
      bytes, ModelMessageKind::kDpsgdParams, learner_.params().size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const int64_t round = message->round.value;
  if (round < 1 || round > options_.rounds || from.value >= options_.num_peers) {
    host.ReportBadPeer(from, Status::Corrupt("Epidemic Learning: unexpected model for round ",
                                             round, " from peer ", from));
    return;
  }
  const std::vector<PeerId> targets =
      EpidemicTargets(options_.seed, from, round, options_.fanout, options_.num_peers);
  if (!std::binary_search(targets.begin(), targets.end(), host.self())) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "Epidemic Learning: peer ", from,
                                 " was not drawn to send to this peer in round ", round));
    return;
  }
  if (round <= round_) {
    host.metrics().Count("epidemic.late_models", 1);
    return;
  }
  inbox_[round][from] = std::move(message->params);
  if (phase_ == Phase::kWaiting) MixIfComplete(host);
}

void EpidemicNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kWaiting && timer == timeout_timer_) {
    host.metrics().Count("epidemic.round_timeouts", 1);
    Mix(host);
  }
}

void EpidemicNode::MixIfComplete(Host& host) {
  auto it = inbox_.find(round_ + 1);
  const size_t have = it == inbox_.end() ? 0 : it->second.size();
  if (have == expected_.size()) Mix(host);
}

void EpidemicNode::Mix(Host& host) {
  std::span<float> x = learner_.params();
  auto it = inbox_.find(round_ + 1);
  if (it != inbox_.end() && !it->second.empty()) {
    const auto k = static_cast<float>(it->second.size() + 1);
    for (const auto& [peer, model] : it->second) {
      for (size_t i = 0; i < x.size(); ++i) x[i] += model[i];
    }
    for (float& v : x) v /= k;
  }
  if (it != inbox_.end()) inbox_.erase(it);
  ++round_;
  host.metrics().ReportModel(Round(static_cast<uint32_t>(round_)), x);
  StartRound(host);
}

}  // namespace murmur
