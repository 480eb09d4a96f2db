#include "murmur/protocol/byzantine_fedavg.h"

#include <algorithm>
#include <limits>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"
#include "murmur/robust/attacks.h"

namespace murmur {

bool NeedsCoalition(AttackKind kind) {
  return kind == AttackKind::kAlie || kind == AttackKind::kIpm || kind == AttackKind::kMimic ||
         kind == AttackKind::kSybil;
}

void FedAvgCoalition::Register(int64_t round, PeerId member) {
  rounds_[round].registered.insert(member);
  // Rounds two behind can no longer be answered in time; forget them.
  while (!rounds_.empty() && rounds_.begin()->first < round - 2) rounds_.erase(rounds_.begin());
}

void FedAvgCoalition::Deposit(int64_t round, PeerId member, std::vector<float> update) {
  RoundState& state = rounds_[round];
  state.registered.insert(member);
  state.updates[member] = std::move(update);
}

bool FedAvgCoalition::Complete(int64_t round) const {
  auto it = rounds_.find(round);
  return it != rounds_.end() && it->second.updates.size() >= it->second.registered.size();
}

const std::vector<float>& FedAvgCoalition::Crafted(int64_t round) {
  RoundState& state = rounds_.at(round);
  MURMUR_CHECK(!state.updates.empty());
  if (!state.crafted.empty()) return state.crafted;
  std::vector<std::span<const float>> updates;
  for (const auto& [member, update] : state.updates) updates.emplace_back(update);
  state.crafted.resize(updates.front().size());
  Status status;
  switch (config_.attack) {
    case AttackKind::kAlie:
      status = ALittleIsEnough(updates, config_.z, state.crafted);
      break;
    case AttackKind::kIpm:
      status = InnerProductManipulation(updates, config_.epsilon, state.crafted);
      break;
    case AttackKind::kMimic:
      state.crafted.assign(updates.front().begin(), updates.front().end());
      break;
    default:  // sybil
      status = MeanOf(updates, state.crafted);
      break;
  }
  MURMUR_CHECK(status.ok());  // the deposits all have the model's size
  return state.crafted;
}

ByzantineFedAvgClient::ByzantineFedAvgClient(Learner& learner, const FedAvgOptions& options,
                                             PeerId server, const ByzantineConfig& config,
                                             std::shared_ptr<FedAvgCoalition> coalition)
    : learner_(learner),
      options_(options),
      server_(server),
      config_(config),
      coalition_(std::move(coalition)) {
  MURMUR_CHECK(config_.attack != AttackKind::kNone &&
               config_.attack != AttackKind::kEquivocation);
  MURMUR_CHECK(coalition_ != nullptr);
}

void ByzantineFedAvgClient::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (from != server_) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "FedAvg client: message from non-server peer ", from));
    return;
  }
  Result<ModelMessage> message = DecodeModelMessage(bytes, ModelMessageKind::kFedAvgGlobal,
                                                    learner_.params().size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  if (config_.attack == AttackKind::kCrash && message->round.value >= config_.crash_round) {
    return;  // crashed: silent for good
  }
  self_ = host.self();  // as OnStart did (a test may drive the node without it)
  coalition_->Register(message->round.value, self_);
  if (busy_) {
    pending_global_ = std::move(message->params);
    pending_round_ = message->round;
    return;
  }
  Begin(host, message->round, std::move(message->params));
}

void ByzantineFedAvgClient::Begin(Host& host, Round round, std::vector<float> global) {
  round_ = round;
  global_ = std::move(global);
  busy_ = true;
  if (config_.attack == AttackKind::kFreeRide) {
    const std::vector<float> zero(global_.size(), 0.0f);
    Reply(host, zero);
    NextPending(host);
    return;
  }
  std::span<float> x = learner_.params();
  std::copy(global_.begin(), global_.end(), x.begin());
  learner_.ResetOptimizer();
  const int64_t steps_per_epoch =
      std::max<int64_t>(1, learner_.shard_size() / learner_.batch_size());
  host.RunCompute(
      TrainTask(learner_, options_.local_epochs * steps_per_epoch, &last_loss_, round.value));
}

void ByzantineFedAvgClient::OnComputeDone(Host& host, uint64_t /*tag*/) {
  std::span<const float> x = learner_.params();
  std::vector<float> own(x.size());
  for (size_t i = 0; i < own.size(); ++i) own[i] = x[i] - global_[i];
  if (NeedsCoalition(config_.attack)) {
    coalition_->Deposit(round_.value, self_, std::move(own));
    waiting_ = true;
    wait_deadline_ = host.now() + options_.round_timeout;
    TrySend(host);
    return;
  }
  std::vector<float> update(own.size());
  switch (config_.attack) {
    case AttackKind::kSignFlip:
      SignFlip(own, config_.scale, update);
      break;
    case AttackKind::kGaussian:
      GaussianNoise(config_.sigma, host.rng(), update);
      break;
    default:  // label-flip, crash (before crashing), omission, nan, inf
      update = std::move(own);
      break;
  }
  Reply(host, update);
  NextPending(host);
}

void ByzantineFedAvgClient::TrySend(Host& host) {
  const bool deadline_passed = options_.round_timeout.ns > 0 && host.now() >= wait_deadline_;
  if (!coalition_->Complete(round_.value) && !deadline_passed) {
    host.StartTimer(kCoalitionPoll);
    return;
  }
  waiting_ = false;
  Reply(host, coalition_->Crafted(round_.value));
  NextPending(host);
}

void ByzantineFedAvgClient::OnTimer(Host& host, TimerId /*timer*/) {
  if (waiting_) TrySend(host);
}

void ByzantineFedAvgClient::Reply(Host& host, std::span<const float> update) {
  if (config_.attack == AttackKind::kOmission && host.rng().Uniform() < config_.omission_prob) {
    return;
  }
  std::vector<float> model(global_.size());
  if (config_.attack == AttackKind::kNan) {
    std::fill(model.begin(), model.end(), std::numeric_limits<float>::quiet_NaN());
  } else if (config_.attack == AttackKind::kInf) {
    std::fill(model.begin(), model.end(), std::numeric_limits<float>::infinity());
  } else {
    for (size_t i = 0; i < model.size(); ++i) model[i] = global_[i] + update[i];
  }
  host.Send(server_, EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, round_,
                                        static_cast<uint64_t>(learner_.shard_size()), model));
}

void ByzantineFedAvgClient::NextPending(Host& host) {
  busy_ = false;
  if (pending_global_.empty()) return;
  std::vector<float> global = std::move(pending_global_);
  pending_global_.clear();
  Begin(host, pending_round_, std::move(global));
}

void FedAvgCoalition::SaveShare(PeerId member, SnapshotWriter& out) const {
  std::vector<int64_t> mine;
  for (const auto& [round, state] : rounds_) {
    if (state.registered.count(member) != 0) mine.push_back(round);
  }
  out.U64(mine.size());
  for (int64_t round : mine) {
    const RoundState& state = rounds_.at(round);
    out.I64(round);
    const auto deposit = state.updates.find(member);
    out.Bool(deposit != state.updates.end());
    if (deposit != state.updates.end()) out.Floats(deposit->second);
    out.Floats(state.crafted);
  }
}

void FedAvgCoalition::RestoreShare(PeerId member, SnapshotReader& in, size_t dim,
                                   int64_t max_round) {
  const uint64_t rounds = in.Count("coalition.rounds", 17);
  for (uint64_t i = 0; i < rounds && in.ok(); ++i) {
    const int64_t round = in.I64("coalition.round");
    const bool deposited = in.Bool("coalition.deposited");
    std::vector<float> update = deposited ? in.Floats("coalition.update") : std::vector<float>();
    std::vector<float> crafted = in.Floats("coalition.crafted");
    if (!in.ok()) return;
    if (round < 0 || round > max_round || (deposited && update.size() != dim) ||
        (!crafted.empty() && crafted.size() != dim)) {
      in.Fail(Status::Corrupt("snapshot: a coalition share of round ", round, " with ",
                              update.size(), " and ", crafted.size(), " floats"));
      return;
    }
    RoundState& state = rounds_[round];
    state.registered.insert(member);
    if (deposited) state.updates[member] = std::move(update);
    if (crafted.empty()) continue;
    if (!state.crafted.empty() && state.crafted != crafted) {
      in.Fail(Status::Corrupt("snapshot: two coalition members disagree on round ", round,
                              "'s crafted update"));
      return;
    }
    state.crafted = std::move(crafted);
  }
}

bool FedAvgCoalition::Deposited(int64_t round, PeerId member) const {
  const auto it = rounds_.find(round);
  return it != rounds_.end() && it->second.updates.count(member) != 0;
}

void ByzantineFedAvgClient::Save(SnapshotWriter& out) const {
  out.U32(self_.value);
  out.Bool(busy_);
  out.Bool(waiting_);
  out.I64(wait_deadline_.ns);
  out.U32(round_.value);
  out.Floats(global_);
  out.F64(last_loss_);
  out.Floats(pending_global_);
  out.U32(pending_round_.value);
  coalition_->SaveShare(self_, out);
}

Status ByzantineFedAvgClient::Restore(SnapshotReader& in) {
  self_ = PeerId(in.U32("byzantine_fedavg.self"));
  busy_ = in.Bool("byzantine_fedavg.busy");
  waiting_ = in.Bool("byzantine_fedavg.waiting");
  wait_deadline_ = SimTime{in.I64("byzantine_fedavg.wait_deadline")};
  round_ = Round(in.U32("byzantine_fedavg.round"));
  global_ = in.Floats("byzantine_fedavg.global");
  last_loss_ = in.F64("byzantine_fedavg.last_loss");
  pending_global_ = in.Floats("byzantine_fedavg.pending_global");
  pending_round_ = Round(in.U32("byzantine_fedavg.pending_round"));
  const size_t dim = learner_.params().size();
  // Rounds are the server's to number (OnMessage takes any): a u32.
  coalition_->RestoreShare(self_, in, dim, int64_t{UINT32_MAX});
  MURMUR_RETURN_IF_ERROR(in.status());
  // Reply and the coalition read global_ and the deposit as this model's
  // size; a waiting member has deposited for its round (OnComputeDone).
  const bool sizes_ok = (global_.empty() ? !busy_ : global_.size() == dim) &&
                        (pending_global_.empty() || pending_global_.size() == dim);
  if (!sizes_ok || (waiting_ && !busy_) ||
      (waiting_ && !coalition_->Deposited(round_.value, self_))) {
    return Status::Corrupt("snapshot: Byzantine FedAvg client of round ", round_.value,
                           (busy_ ? " busy" : " idle"), (waiting_ ? " waiting" : ""),
                           " with a global model of ", global_.size(), " floats");
  }
  return Status::Ok();
}

}  // namespace murmur
