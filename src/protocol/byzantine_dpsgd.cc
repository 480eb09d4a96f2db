#include "murmur/protocol/byzantine_dpsgd.h"

#include <algorithm>
#include <limits>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/sybilwall_message.h"
#include "murmur/protocol/train_task.h"
#include "murmur/robust/attacks.h"
#include "protocol/byzantine_craft.h"

namespace murmur {

void DpsgdSybilCoalition::Deposit(Round round, PeerId member, std::span<const float> model) {
  rounds_[round].models[member].assign(model.begin(), model.end());
}

bool DpsgdSybilCoalition::Complete(Round round) const {
  auto it = rounds_.find(round);
  if (it == rounds_.end()) return members_.empty();
  for (PeerId member : members_) {
    if (it->second.models.count(member) == 0) return false;
  }
  return true;
}

std::vector<float> DpsgdSybilCoalition::Crafted(Round round, PeerId member) {
  auto it = rounds_.find(round);
  MURMUR_CHECK(it != rounds_.end() && !it->second.models.empty());
  RoundState& state = it->second;
  if (state.crafted.empty()) {
    std::vector<std::span<const float>> models;
    for (const auto& [peer, model] : state.models) models.emplace_back(model);
    state.crafted.resize(models.front().size());
    MURMUR_CHECK(MeanOf(models, state.crafted).ok());
  }
  std::vector<float> out = state.crafted;
  state.fetched.insert(member);
  if (std::includes(state.fetched.begin(), state.fetched.end(), members_.begin(),
                    members_.end())) {
    rounds_.erase(it);
  }
  return out;
}

void DpsgdSybilCoalition::SaveShare(PeerId member, SnapshotWriter& out) const {
  std::vector<Round> mine;
  for (const auto& [round, state] : rounds_) {
    if (state.models.count(member) != 0) mine.push_back(round);
  }
  out.U64(mine.size());
  for (Round round : mine) {
    const RoundState& state = rounds_.at(round);
    out.U32(round.value);
    out.Floats(state.models.at(member));
    out.Bool(state.fetched.count(member) != 0);
    out.Floats(state.crafted);
  }
}

void DpsgdSybilCoalition::RestoreShare(PeerId member, SnapshotReader& in, size_t dim,
                                       int64_t max_round) {
  Join(member);
  const uint64_t rounds = in.Count("sybil_coalition.rounds", 21);
  for (uint64_t i = 0; i < rounds && in.ok(); ++i) {
    const Round round(in.U32("sybil_coalition.round"));
    std::vector<float> model = in.Floats("sybil_coalition.model");
    const bool fetched = in.Bool("sybil_coalition.fetched");
    std::vector<float> crafted = in.Floats("sybil_coalition.crafted");
    if (!in.ok()) return;
    if (round.value < 1 || round.value > max_round || model.size() != dim ||
        (!crafted.empty() && crafted.size() != dim)) {
      in.Fail(Status::Corrupt("snapshot: a Sybil coalition share of round ", round.value,
                              " with ", model.size(), " and ", crafted.size(), " floats"));
      return;
    }
    RoundState& state = rounds_[round];
    state.models[member] = std::move(model);
    if (fetched) state.fetched.insert(member);
    if (crafted.empty()) continue;
    if (!state.crafted.empty() && state.crafted != crafted) {
      in.Fail(Status::Corrupt("snapshot: two Sybil identities disagree on round ",
                              round.value, "'s crafted model"));
      return;
    }
    state.crafted = std::move(crafted);
  }
}

bool DpsgdSybilCoalition::Deposited(Round round, PeerId member) const {
  const auto it = rounds_.find(round);
  return it != rounds_.end() && it->second.models.count(member) != 0;
}

ByzantineDpsgdNode::ByzantineDpsgdNode(Learner& learner, const DpsgdOptions& options,
                                       std::vector<PeerId> neighbours,
                                       std::vector<PeerId> honest,
                                       const ByzantineConfig& config,
                                       std::shared_ptr<DpsgdSybilCoalition> coalition)
    : learner_(learner),
      options_(options),
      neighbours_(std::move(neighbours)),
      honest_(std::move(honest)),
      config_(config),
      coalition_(std::move(coalition)),
      // An attacker counts nothing: its counters would mix with the honest
      // peers' in the run's summary.
      barrier_({.timeout = options_.round_timeout}, honest_) {
  MURMUR_CHECK(config_.attack != AttackKind::kNone);
  MURMUR_CHECK(std::is_sorted(neighbours_.begin(), neighbours_.end()));
  MURMUR_CHECK(std::is_sorted(honest_.begin(), honest_.end()));
  MURMUR_CHECK(std::includes(neighbours_.begin(), neighbours_.end(), honest_.begin(),
                             honest_.end()));
}

void ByzantineDpsgdNode::OnStart(Host& host) {
  self_ = host.self();
  if (coalition_ != nullptr) coalition_->Join(self_);
  StartRound(host);
}

void ByzantineDpsgdNode::StartRound(Host& host) {
  const bool crashed =
      config_.attack == AttackKind::kCrash && round_.value + 1 >= config_.crash_round;
  if (round_.value >= options_.rounds || crashed) {
    phase_ = Phase::kDone;
    barrier_.Clear();
    return;
  }
  std::span<const float> x = ExchangedParams(options_, learner_.params());
  base_.assign(x.begin(), x.end());
  phase_ = Phase::kTraining;
  if (config_.attack == AttackKind::kFreeRide) {
    AfterTraining(host);
    return;
  }
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            uint64_t{round_.value}));
}

void ByzantineDpsgdNode::OnComputeDone(Host& host, uint64_t /*tag*/) { AfterTraining(host); }

void ByzantineDpsgdNode::AfterTraining(Host& host) {
  // The coalition crafts what the run exchanges (only the output layer
  // with train.trainable = "output").
  if (coalition_ != nullptr) {
    coalition_->Deposit(NextRound(round_), self_,
                        ExchangedParams(options_, learner_.params()));
  }
  phase_ = Phase::kWaiting;
  barrier_.Wait(host);
  AttackIfComplete(host);
}

void ByzantineDpsgdNode::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    host.ReportBadPeer(from, Status::InvalidArgument("D-PSGD model from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  if (!std::binary_search(honest_.begin(), honest_.end(), from)) return;  // a fellow attacker
  if (IsSybilWallRecord(bytes)) return;             // Sybils do not gossip
  Result<ModelMessage> message =
      DecodeModelMessage(bytes, ModelMessageKind::kDpsgdParams,
                         ExchangedParams(options_, learner_.params()).size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const int64_t round = message->round.value;
  if (phase_ == Phase::kDone || round > options_.rounds) return;
  const Arrival arrival =
      barrier_.Add(host.metrics(), message->round, from, std::move(message->params));
  if (arrival == Arrival::kStored && phase_ == Phase::kWaiting) AttackIfComplete(host);
}

void ByzantineDpsgdNode::OnTimer(Host& host, TimerId timer) {
  if (poll_pending_ && timer == poll_timer_) {
    poll_pending_ = false;
    if (phase_ == Phase::kWaiting) AttackIfComplete(host);
    return;
  }
  if (phase_ == Phase::kWaiting && barrier_.TimedOut(host.metrics(), timer)) Attack(host);
}

void ByzantineDpsgdNode::AttackIfComplete(Host& host) {
  if (!barrier_.complete()) return;
  if (coalition_ != nullptr && !coalition_->Complete(NextRound(round_))) {
    if (!poll_pending_) {
      poll_timer_ = host.StartTimer(kCoalitionPoll);
      poll_pending_ = true;
    }
    return;
  }
  Attack(host);
}

void ByzantineDpsgdNode::Attack(Host& host) {
  const ArrivedModels arrived = barrier_.Close();
  std::vector<const ReceivedModel*> received(honest_.size(), nullptr);
  std::vector<std::span<const float>> models;
  for (const auto& [peer, model] : arrived) {
    const auto k = static_cast<size_t>(
        std::lower_bound(honest_.begin(), honest_.end(), peer) - honest_.begin());
    // Only honest senders are filed (the barrier's senders), but a model
    // kept ahead in a restored snapshot is not checked against them.
    if (k == honest_.size() || honest_[k] != peer) continue;
    received[k] = &model;
    models.emplace_back(model);
  }
  const size_t dim = base_.size();
  if (config_.attack == AttackKind::kGaussian) {
    round_noise_.resize(dim);
    GaussianNoise(config_.sigma, host.rng(), round_noise_);
  }
  const Round round = NextRound(round_);
  // Equivocation crafts per receiver; every other attack sends one model,
  // for Sybils the coalition's.
  std::vector<float> shared;
  if (coalition_ != nullptr) shared = coalition_->Crafted(NextRound(round_), self_);
  SharedMessage shared_message;
  for (size_t k = 0; k < honest_.size(); ++k) {
    if (config_.attack == AttackKind::kOmission &&
        host.rng().Uniform() < config_.omission_prob) {
      continue;
    }
    const CraftInput in{.base = base_,
                        .trained = ExchangedParams(options_, learner_.params()),
                        .honest = models,
                        .receiver = received[k] != nullptr ? std::span<const float>(*received[k])
                                                           : std::span<const float>(),
                        .noise = round_noise_};
    if (config_.attack == AttackKind::kEquivocation) {
      host.Send(honest_[k], EncodeModelMessage(ModelMessageKind::kDpsgdParams, round, 0,
                                               CraftModel(config_, in)));
      continue;
    }
    if (shared.empty()) shared = CraftModel(config_, in);
    // The crafted model is the same for every honest neighbour: one buffer.
    if (shared_message.owner == nullptr) {
      shared_message = EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, round, 0, shared);
    }
    host.SendShared(honest_[k], shared_message);
  }
  // Stay near consensus: the plain mean of the trained model and the
  // honest models received.
  std::span<float> x = ExchangedParams(options_, learner_.params());
  models.emplace_back(x);
  std::vector<float> mixed(dim);
  MURMUR_CHECK(MeanOf(models, mixed).ok());
  std::copy(mixed.begin(), mixed.end(), x.begin());
  round_ = NextRound(round_);
  StartRound(host);
}

void ByzantineDpsgdNode::Save(SnapshotWriter& out) const {
  out.U8(static_cast<uint8_t>(phase_));
  out.U32(round_.value);
  out.U64(poll_timer_.value);
  out.Bool(poll_pending_);
  out.F64(last_loss_);
  // round_noise_ is drawn afresh before every use (Attack).
  out.Floats(base_);
  barrier_.Save(out);
  // The config (hashed into the snapshot) says whether this part is there.
  if (coalition_ == nullptr) return;
  out.U32(self_.value);
  coalition_->SaveShare(self_, out);
}

Status ByzantineDpsgdNode::Restore(SnapshotReader& in) {
  const uint8_t phase = in.U8("byzantine_dpsgd.phase");
  round_ = Round(in.U32("byzantine_dpsgd.round"));
  poll_timer_ = TimerId(in.U64("byzantine_dpsgd.poll_timer"));
  poll_pending_ = in.Bool("byzantine_dpsgd.poll_pending");
  last_loss_ = in.F64("byzantine_dpsgd.last_loss");
  base_ = in.Floats("byzantine_dpsgd.base");
  const size_t dim = ExchangedParams(options_, learner_.params()).size();
  barrier_.Restore(in, dim);
  if (coalition_ != nullptr) {
    self_ = PeerId(in.U32("byzantine_dpsgd.self"));
    coalition_->RestoreShare(self_, in, dim, options_.rounds);
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  // A member waiting for the coalition has deposited for the round it
  // waits on (AfterTraining); Attack's Crafted reads that deposit.
  if (coalition_ != nullptr && phase == static_cast<uint8_t>(Phase::kWaiting) &&
      !coalition_->Deposited(NextRound(round_), self_)) {
    return Status::Corrupt("snapshot: a Sybil identity waits on round ",
                           NextRound(round_).value, " without its deposit");
  }
  // Attack reads base_ as the round-start model: it has the exchanged size
  // once the first round started (StartRound), which OnStart did.
  // The barrier collects the round after the last one attacked, and a
  // peer past the last round is done.
  if (phase > static_cast<uint8_t>(Phase::kDone) || round_.value > options_.rounds ||
      barrier_.open_round() != NextRound(round_) ||
      (round_.value == options_.rounds && phase != static_cast<uint8_t>(Phase::kDone)) ||
      (base_.size() != dim && !(base_.empty() && phase == static_cast<uint8_t>(Phase::kDone)))) {
    return Status::Corrupt("snapshot: Byzantine D-PSGD phase ", int{phase}, " round ",
                           round_.value, " collecting round ", barrier_.open_round().value,
                           " base of ", base_.size(), " floats");
  }
  phase_ = static_cast<Phase>(phase);
  return Status::Ok();
}

}  // namespace murmur
