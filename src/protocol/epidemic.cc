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
        std::find(out.begin(), out.end(), PeerOf(t)) == out.end() ? t : j);
    out.push_back(PeerId(pick));
  }
  for (PeerId& p : out) {
    if (p.value >= sender.value) p = PeerId(p.value + 1);
  }
  std::sort(out.begin(), out.end());
  return out;
}

EpidemicNode::EpidemicNode(Learner& learner, const EpidemicOptions& options)
    : learner_(learner),
      options_(options),
      barrier_({.name = "epidemic",
                .timeout = options_.round_timeout,
                .skip_senders_ahead = options_.resumable},
               [this](Round round) { return SendersTo(self_, round); }) {
  MURMUR_CHECK(options_.fanout >= 1 && options_.fanout < options_.num_peers);
  MURMUR_CHECK(options_.start_round >= 0 && options_.start_round <= options_.rounds);
  if (options_.start_round > 0) {
    // Nothing is buffered yet (and no senders asked for): the barrier
    // simply opens the next round.
    round_ = Round(static_cast<uint32_t>(options_.start_round));
    (void)barrier_.JumpTo(NextRound(round_));
  }
}

std::vector<PeerId> EpidemicNode::SendersTo(PeerId self, Round round) const {
  std::vector<PeerId> senders;
  // No peer sends for a round outside the run (EpidemicTargets' domain);
  // OnMessage refuses such rounds, and a restored barrier asks about the
  // rounds a snapshot names before the node has checked them.
  if (round.value < 1 || round.value > options_.rounds || round.value >= (uint32_t{1} << 24)) {
    return senders;
  }
  for (uint32_t j = 0; j < options_.num_peers; ++j) {
    const PeerId peer(j);
    if (peer == self) continue;
    const std::vector<PeerId> targets =
        EpidemicTargets(options_.seed, peer, round.value, options_.fanout, options_.num_peers);
    if (std::binary_search(targets.begin(), targets.end(), self)) senders.push_back(peer);
  }
  return senders;
}

void EpidemicNode::OnStart(Host& host) {
  self_ = host.self();
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
}

void EpidemicNode::StartRound(Host& host) {
  if (round_.value >= options_.rounds) {
    phase_ = Phase::kDone;
    return;
  }
  phase_ = Phase::kTraining;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            uint64_t{round_.value}));
}

void EpidemicNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(phase_ == Phase::kTraining && tag == uint64_t{round_.value});
  const Round round = NextRound(round_);
  host.metrics().ReportTrainLoss(round, last_loss_);
  // One buffer for every target (Host::SendShared).
  const SharedMessage frame =
      EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, round, 0, learner_.params());
  for (PeerId to : EpidemicTargets(options_.seed, host.self(), round.value, options_.fanout,
                                   options_.num_peers)) {
    host.SendShared(to, frame);
  }
  phase_ = Phase::kWaiting;
  barrier_.Wait(host);
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
  // Rounds up to round_ are over (counted as epidemic.late_models).
  const Arrival arrival =
      barrier_.Add(host.metrics(), message->round, from, std::move(message->params));
  if (arrival == Arrival::kStored && phase_ == Phase::kWaiting) MixIfComplete(host);
}

void EpidemicNode::OnPeerDown(Host& host, PeerId peer) {
  barrier_.MarkDown(peer);
  host.metrics().Count("epidemic.peers_down", 1);
  if (phase_ == Phase::kWaiting) MixIfComplete(host);
}

void EpidemicNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kWaiting && barrier_.TimedOut(host.metrics(), timer)) {
    Mix(host);
  }
}

void EpidemicNode::MixIfComplete(Host& host) {
  if (barrier_.complete()) Mix(host);
}

void EpidemicNode::Mix(Host& host) {
  std::span<float> x = learner_.params();
  const ArrivedModels arrived = barrier_.Close();
  if (!arrived.empty()) {
    const auto k = static_cast<float>(arrived.size() + 1);
    for (const auto& [peer, model] : arrived) {
      for (size_t i = 0; i < x.size(); ++i) x[i] += model[i];
    }
    for (float& v : x) v /= k;
  }
  round_ = NextRound(round_);
  host.metrics().ReportModel(round_, x);
  StartRound(host);
}

void EpidemicNode::Save(SnapshotWriter& out) const {
  out.U8(static_cast<uint8_t>(phase_));
  out.U32(round_.value);
  out.U32(self_.value);
  out.F64(last_loss_);
  barrier_.Save(out);
}

Status EpidemicNode::Restore(SnapshotReader& in) {
  const uint8_t phase = in.U8("epidemic.phase");
  round_ = Round(in.U32("epidemic.round"));
  self_ = PeerId(in.U32("epidemic.self"));
  last_loss_ = in.F64("epidemic.last_loss");
  barrier_.Restore(in, learner_.params().size());
  MURMUR_RETURN_IF_ERROR(in.status());
  // self_ picks the senders of rounds the barrier has not touched yet.
  // The barrier collects the round after the last one mixed (whose
  // senders EpidemicTargets draws), and a peer that mixed the last round
  // is done.
  if (phase > static_cast<uint8_t>(Phase::kDone) || round_.value > options_.rounds ||
      self_.value >= options_.num_peers || barrier_.open_round() != NextRound(round_) ||
      (round_.value == options_.rounds && phase != static_cast<uint8_t>(Phase::kDone))) {
    return Status::Corrupt("snapshot: Epidemic Learning phase ", int{phase}, " round ",
                           round_.value, " peer ", self_.value, " collecting round ",
                           barrier_.open_round().value);
  }
  phase_ = static_cast<Phase>(phase);
  return Status::Ok();
}

}  // namespace murmur
