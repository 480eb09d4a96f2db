#include "murmur/protocol/dpsgd.h"

#include <algorithm>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/neighbour_mix.h"
#include "murmur/protocol/sybilwall_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

std::span<float> ExchangedParams(const DpsgdOptions& options, std::span<float> params) {
  if (options.exchange_size == 0) return params;
  MURMUR_CHECK(options.exchange_offset >= 0 &&
               options.exchange_offset + options.exchange_size <=
                   static_cast<int64_t>(params.size()));
  return params.subspan(static_cast<size_t>(options.exchange_offset),
                        static_cast<size_t>(options.exchange_size));
}

DpsgdNode::DpsgdNode(Learner& learner, const DpsgdOptions& options,
                     std::vector<PeerId> neighbours,
                     std::vector<double> neighbour_weights, double self_weight,
                     std::shared_ptr<const ModelCombiner> combiner,
                     std::unique_ptr<const BristleCombiner> bristle)
    : learner_(learner),
      options_(options),
      neighbours_(std::move(neighbours)),
      neighbour_weights_(std::move(neighbour_weights)),
      self_weight_(self_weight),
      combiner_(combiner != nullptr && !combiner->is_plain_average() ? std::move(combiner)
                                                                      : nullptr),
      bristle_(std::move(bristle)),
      barrier_({.name = "dpsgd",
                .timeout = options_.round_timeout,
                .skip_senders_ahead = options_.resumable},
               [this](Round round) { return ExpectedSenders(round); }) {
  MURMUR_CHECK(neighbours_.size() == neighbour_weights_.size());
  if (bristle_ != nullptr) {
    MURMUR_CHECK(options_.exchange_offset == bristle_->output_layer().offset &&
                 options_.exchange_size == bristle_->output_layer().size());
  }
  MURMUR_CHECK(std::is_sorted(neighbours_.begin(), neighbours_.end()));
  MURMUR_CHECK(options_.start_round >= 0 && options_.start_round <= options_.rounds);
  if (options_.start_round > 0) {
    // Nothing is buffered yet: the barrier simply opens the next round.
    round_ = Round(static_cast<uint32_t>(options_.start_round));
    (void)barrier_.JumpTo(NextRound(round_));
  }
}

std::vector<PeerId> DpsgdNode::ExpectedSenders(Round round) const {
  if (!IsFinalMerge(round)) return neighbours_;
  // The final merge is global: every other peer sends.
  std::vector<PeerId> all;
  for (uint32_t j = 0; j < options_.num_peers; ++j) {
    const PeerId peer(j);
    if (peer != self_) all.push_back(peer);
  }
  return all;
}

void DpsgdNode::OnStart(Host& host) {
  self_ = host.self();
  if (combiner_ != nullptr && combiner_->sybilwall() != nullptr) {
    sybilwall_ = std::make_unique<SybilWallHistory>(host.self(), combiner_->sybilwall()->lambda);
  }
  host.metrics().ReportModel(round_, learner_.params());
  if (options_.dp.enabled()) dp_.emplace(options_.dp, Exchanged());
  StartRound(host);
}

void DpsgdNode::StartRound(Host& host) {
  if (round_.value >= options_.rounds) {
    phase_ = Phase::kDone;
    return;
  }
  phase_ = Phase::kTraining;
  host.RunCompute(TrainTask(learner_, options_.local_steps, &last_loss_,
                            uint64_t{round_.value}));
}

void DpsgdNode::OnComputeDone(Host& host, uint64_t tag) {
  MURMUR_CHECK(phase_ == Phase::kTraining && tag == uint64_t{round_.value});
  if (CatchUpIfBehind(host)) return;
  const Round round = NextRound(round_);
  host.metrics().ReportTrainLoss(round, last_loss_);
  // One release per communicating round, whoever it goes to.
  const auto sent = [&]() -> std::span<const float> {
    return dp_ ? dp_->Release(Exchanged(), host) : Exchanged();
  };
  if (IsFinalMerge(round)) {
    // One buffer for every recipient (Host::SendShared).
    const SharedMessage message =
        EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, round, 0, sent());
    for (uint32_t j = 0; j < options_.num_peers; ++j) {
      const PeerId peer(j);
      if (peer == host.self()) continue;
      host.SendShared(peer, message);
    }
  } else if (!CommunicatesInRound(options_.schedule, options_.comm_budget, round.value,
                                  options_.rounds)) {
    // A local-only round: the model stays as trained.
    barrier_.Close();
    round_ = round;
    host.metrics().ReportModel(round_, learner_.params());
    StartRound(host);
    return;
  } else {
    const SharedMessage message =
        EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, round, 0, sent());
    for (PeerId neighbour : neighbours_) host.SendShared(neighbour, message);
    if (sybilwall_ != nullptr) SendSybilWallRecords(host);
  }
  phase_ = Phase::kWaiting;
  barrier_.Wait(host);
  MixIfComplete(host);
}

void DpsgdNode::OnMessage(Host& host, PeerId from,
                          std::span<const uint8_t> bytes) {
  OnSharedMessage(host, from, SharedMessage{.owner = nullptr, .bytes = bytes});
}

void DpsgdNode::OnSharedMessage(Host& host, PeerId from, const SharedMessage& shared) {
  const std::span<const uint8_t> bytes = shared.bytes;
  if (sybilwall_ != nullptr && IsSybilWallRecord(bytes)) {
    OnSybilWallRecord(host, from, bytes);
    return;
  }
  Result<ReceivedModelMessage> message =
      DecodeSharedModelMessage(shared, ModelMessageKind::kDpsgdParams, Exchanged().size());
  // Every peer of the run sends its model of the final merge to every peer.
  const bool final_sender = options_.final_merge && from.value < options_.num_peers &&
                            message.ok() && IsFinalMerge(message->round) &&
                            round_.value < options_.rounds;
  if (!final_sender && !std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "D-PSGD model from peer ", from,
                                 ", which is not a neighbour"));
    return;
  }
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  const int64_t round = message->round.value;
  if (round < 1 || round > options_.rounds) {
    host.ReportBadPeer(from, Status::Corrupt("D-PSGD: unexpected message for round ", round));
    return;
  }
  // The round this peer mixes next is round_ + 1; earlier ones are over
  // (counted as dpsgd.late_models).
  const Arrival arrival =
      barrier_.Add(host.metrics(), message->round, from, std::move(message->params));
  if (phase_ != Phase::kWaiting) return;
  if (arrival == Arrival::kBeyondWindow || arrival == Arrival::kStored) {
    if (CatchUpIfBehind(host)) return;
  }
  // A model far ahead completes the round when the barrier does not wait
  // for senders ahead (DpsgdOptions::resumable); otherwise it cannot.
  if (arrival == Arrival::kStored || arrival == Arrival::kBeyondWindow) MixIfComplete(host);
}

void DpsgdNode::OnPeerDown(Host& host, PeerId peer) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), peer)) return;
  barrier_.MarkDown(peer);
  host.metrics().Count("dpsgd.neighbours_down", 1);
  if (phase_ == Phase::kWaiting) MixIfComplete(host);
}

bool DpsgdNode::CatchUpIfBehind(Host& host) {
  if (phase_ == Phase::kDone) return false;
  const std::optional<Round> target = barrier_.CatchUpRound();
  if (!target.has_value() || target->value > options_.rounds) return false;
  const ArrivedModels arrived = barrier_.JumpTo(*target);
  std::span<float> x = Exchanged();
  std::vector<std::span<const float>> others;
  for (const auto& [peer, model] : arrived) others.emplace_back(model);
  if (combiner_ != nullptr && combiner_->sybilwall() == nullptr) {
    const Status status =
        combiner_->Combine(x, others, OwnModel::kReferenceOnly, {}, host.rng());
    if (!status.ok()) host.metrics().Count("robust.failed_aggregations", 1);
  } else {
    std::fill(x.begin(), x.end(), 0.0f);
    for (std::span<const float> model : others) {
      for (size_t i = 0; i < x.size(); ++i) x[i] += model[i];
    }
    for (float& v : x) v /= static_cast<float>(others.size());
  }
  host.metrics().Count("dpsgd.catch_ups", 1);
  round_ = Round(target->value - 1);
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
  return true;
}

void DpsgdNode::OnTimer(Host& host, TimerId timer) {
  if (phase_ == Phase::kWaiting && barrier_.TimedOut(host.metrics(), timer)) {
    if (IsFinalMerge(NextRound(round_))) {
      FinalMerge(host);
    } else {
      Mix(host);
    }
  }
}

void DpsgdNode::MixIfComplete(Host& host) {
  if (!barrier_.complete()) return;
  if (IsFinalMerge(NextRound(round_))) {
    FinalMerge(host);
  } else {
    Mix(host);
  }
}

void DpsgdNode::Mix(Host& host) {
  std::span<float> x = Exchanged();
  const ArrivedModels arrived = barrier_.Close();
  if (sybilwall_ != nullptr) {
    SybilWallMix(host, arrived);
    round_ = NextRound(round_);
    host.metrics().ReportModel(round_, learner_.params());
    StartRound(host);
    return;
  }
  const NeighbourMix mix = CollectArrived(arrived, neighbours_, neighbour_weights_, self_weight_);
  if (bristle_ != nullptr) {
    const Status status = bristle_->Combine(learner_.params(), mix.models, host.rng());
    if (!status.ok()) host.metrics().Count("robust.failed_aggregations", 1);
  } else if (combiner_ != nullptr) {
    std::vector<double> weights{mix.self_weight};
    weights.insert(weights.end(), mix.weights.begin(), mix.weights.end());
    const Status status =
        combiner_->Combine(x, mix.models, OwnModel::kIsInput, weights, host.rng());
    if (!status.ok()) host.metrics().Count("robust.failed_aggregations", 1);
  } else {
    ApplyMix(x, mix);
  }
  round_ = NextRound(round_);
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
}

void DpsgdNode::FinalMerge(Host& host) {
  std::span<float> x = Exchanged();
  const ArrivedModels arrived = barrier_.Close();
  if (bristle_ != nullptr || combiner_ != nullptr) {
    std::vector<std::span<const float>> others;
    for (const auto& [peer, model] : arrived) others.emplace_back(model);
    const Status status =
        bristle_ != nullptr
            ? bristle_->Combine(learner_.params(), others, host.rng())
            : combiner_->Combine(x, others, OwnModel::kIsInput, {}, host.rng());
    if (!status.ok()) host.metrics().Count("robust.failed_aggregations", 1);
  } else {
    const auto k = static_cast<float>(arrived.size() + 1);
    for (const auto& [peer, model] : arrived) {
      for (size_t i = 0; i < x.size(); ++i) x[i] += model[i];
    }
    for (float& v : x) v /= k;
  }
  round_ = NextRound(round_);
  host.metrics().ReportModel(round_, learner_.params());
  StartRound(host);
}

void DpsgdNode::SendSybilWallRecords(Host& host) {
  for (PeerId neighbour : neighbours_) {
    const SybilWallRecord* record = sybilwall_->ChooseFor(neighbour, host.rng());
    if (record == nullptr) continue;
    host.Send(neighbour, EncodeSybilWallRecord(record->origin, record->round, record->distance,
                                               record->history));
    host.metrics().Count("sybilwall.records_sent", 1);
  }
}

void DpsgdNode::OnSybilWallRecord(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    host.ReportBadPeer(from, Status::InvalidArgument("SybilWall record from peer ", from,
                                                     ", which is not a neighbour"));
    return;
  }
  Result<SybilWallRecordMessage> record =
      DecodeSybilWallRecord(bytes, Exchanged().size());
  if (!record.ok()) {
    host.ReportBadPeer(from, record.status());
    return;
  }
  // An honest sender never gossips its own record (the receiver has it
  // first hand) nor the receiver's.
  if (record->origin == from || record->origin == host.self() ||
      record->origin.value >= static_cast<uint64_t>(options_.num_peers) ||
      record->round > options_.rounds) {
    host.ReportBadPeer(from, Status::Corrupt("SybilWall record of peer ", record->origin,
                                             " round ", record->round, " from peer ", from));
    return;
  }
  if (sybilwall_->AddGossiped(from, record->origin, record->round, record->distance,
                              std::move(record->history))) {
    host.metrics().Count("sybilwall.records_stored", 1);
  }
}

void DpsgdNode::SybilWallMix(Host& host, const ArrivedModels& arrived) {
  const uint32_t round = NextRound(round_).value;
  std::vector<std::pair<PeerId, std::span<const float>>> models;
  for (const auto& [peer, model] : arrived) {
    sybilwall_->AddNeighbourModel(peer, round, model);
    models.emplace_back(peer, model);
  }
  const Status status =
      sybilwall_->Aggregate(Exchanged(), models, combiner_->sybilwall()->score);
  if (!status.ok()) host.metrics().Count("robust.failed_aggregations", 1);
}

bool DpsgdNode::CanSnapshot() const {
  // A built-in robust rule is stateless (ModelCombiner::Combine is const;
  // its randomness is the host's saved stream), and so is Bristle's
  // combiner (const, over the peer's validation split and the shared
  // model); SybilWall's update histories are saved with the node. The
  // local noise's state (DpRelease) is not saved, and whatever a Python
  // rule ("py:...") keeps lies out of reach.
  return (combiner_ == nullptr || combiner_->CanSnapshot()) && !options_.dp.enabled();
}

PersistMode DpsgdNode::persist_mode() const {
  const bool sybilwall = combiner_ != nullptr && combiner_->sybilwall() != nullptr;
  return CanSnapshot() && !sybilwall ? PersistMode::kByRound : PersistMode::kNone;
}

void DpsgdNode::Save(SnapshotWriter& out) const {
  out.U8(static_cast<uint8_t>(phase_));
  out.U32(round_.value);
  out.U32(self_.value);
  out.F64(last_loss_);
  barrier_.Save(out);
  // The config (hashed into the snapshot) says whether this part is there.
  if (sybilwall_ != nullptr) sybilwall_->Save(out);
}

Status DpsgdNode::Restore(SnapshotReader& in) {
  const uint8_t phase = in.U8("dpsgd.phase");
  round_ = Round(in.U32("dpsgd.round"));
  self_ = PeerId(in.U32("dpsgd.self"));
  last_loss_ = in.F64("dpsgd.last_loss");
  if (in.ok() && (self_.value >= options_.num_peers ||
                  std::binary_search(neighbours_.begin(), neighbours_.end(), self_))) {
    in.Fail(Status::Corrupt("snapshot: D-PSGD peer ", self_.value, " is not a peer of this run "
                            "or is its own neighbour: the snapshot is of another peer"));
  }
  barrier_.Restore(in, Exchanged().size());
  if (combiner_ != nullptr && combiner_->sybilwall() != nullptr) {
    // OnStart built it; a restored node starts from the snapshot instead.
    sybilwall_ = std::make_unique<SybilWallHistory>(self_, combiner_->sybilwall()->lambda);
    sybilwall_->Restore(in, Exchanged().size());
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  // The barrier collects the round after the last one mixed, and a peer
  // that mixed the last round is done.
  if (phase > static_cast<uint8_t>(Phase::kDone) || round_.value > options_.rounds ||
      barrier_.open_round() != NextRound(round_) ||
      (round_.value == options_.rounds && phase != static_cast<uint8_t>(Phase::kDone))) {
    return Status::Corrupt("snapshot: D-PSGD phase ", int{phase}, " round ", round_.value,
                           " collecting round ", barrier_.open_round().value);
  }
  phase_ = static_cast<Phase>(phase);
  return Status::Ok();
}

bool DpsgdNode::IndependentOfOtherNodes() const {
  return bristle_ == nullptr && (combiner_ == nullptr || combiner_->is_plain_average());
}

}  // namespace murmur
