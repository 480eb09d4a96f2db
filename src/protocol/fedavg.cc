#include "murmur/protocol/fedavg.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/bytes.h"
#include "murmur/privacy/mechanisms.h"
#include "murmur/protocol/message_kind.h"
#include "murmur/protocol/dp_fedavg_message.h"
#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

std::set<PeerId> SelectRoundClients(const std::vector<PeerId>& clients, double fraction,
                                    Rng& rng) {
  MURMUR_CHECK(!clients.empty());
  const auto k = static_cast<int64_t>(clients.size());
  // m = max(C * K, 1) clients, as in the paper's Algorithm 1.
  const int64_t m = std::clamp<int64_t>(
      static_cast<int64_t>(std::floor(fraction * static_cast<double>(k))), 1, k);
  // Partial Fisher-Yates: the first m entries are a uniform m-subset.
  std::vector<PeerId> order = clients;
  for (int64_t i = 0; i < m; ++i) {
    const auto j = i + static_cast<int64_t>(rng.UniformInt(k - i));
    std::swap(order[i], order[j]);
  }
  return std::set<PeerId>(order.begin(), order.begin() + m);
}

FedAvgServer::FedAvgServer(std::vector<float> initial_model,
                           const FedAvgOptions& options,
                           std::vector<PeerId> clients,
                           std::shared_ptr<const ModelCombiner> combiner)
    : global_(std::move(initial_model)),
      options_(options),
      clients_(std::move(clients)),
      server_optimizer_(options.server_optimizer),
      combiner_(combiner != nullptr && !combiner->is_plain_average() ? std::move(combiner)
                                                                      : nullptr),
      clip_(options.dp.clip) {
  MURMUR_CHECK(!clients_.empty());
}

void FedAvgServer::OnStart(Host& host) {
  // round_ is 0 but for a server restored from its snapshot (fedavg.h).
  host.metrics().ReportModel(RoundOf(round_), global_);
  StartRound(host);
}

void FedAvgServer::StartRound(Host& host) {
  if (round_ >= options_.rounds) {
    done_ = true;
    return;
  }
  // Under DP the sample must be secret from whoever sees the global models
  // (the accountant's amplification by sampling rests on it).
  selected_ = SelectRoundClients(clients_, options_.client_fraction,
                                 options_.dp.enabled() ? host.privacy_rng() : host.rng());
  replied_.clear();
  extra_update_.clear();
  total_weight_ = 0;
  within_clip_ = 0;
  clip_bit_sum_ = 0;
  if (combiner_ != nullptr) {
    replies_.clear();
    reply_weights_.clear();
  } else {
    sum_.assign(global_.size(), 0.0);
  }
  const Round round(static_cast<uint32_t>(round_ + 1));
  if (options_.compression.enabled()) {
    SendCodedGlobal(host, round);
  } else if (local_adaptive()) {
    for (PeerId client : selected_) {
      host.Send(client, EncodeDpFedAvgMessage(DpFedAvgKind::kGlobal, round, clip_, global_));
    }
  } else {
    for (PeerId client : selected_) {
      host.Send(client, EncodeModelMessage(ModelMessageKind::kFedAvgGlobal,
                                           round, 0, global_));
    }
  }
  if (options_.round_timeout.ns > 0) {
    timeout_timer_ = host.StartTimer(options_.round_timeout);
  }
}

void FedAvgServer::OnMessage(Host& host, PeerId from,
                             std::span<const uint8_t> bytes) {
  if (options_.compression.enabled()) {
    OnCodedUpdate(host, from, bytes);
    return;
  }
  if (std::find(clients_.begin(), clients_.end(), from) == clients_.end()) {
    host.ReportBadPeer(from, Status::InvalidArgument("FedAvg: update from non-client peer ", from));
    return;
  }
  if (DropsBeforeDecoding(host, from, bytes)) return;
  double clip_bit = 0;
  Result<ModelMessage> message = DecodeUpdate(bytes, &clip_bit);
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  if (done_ || message->round.value != round_ + 1) {
    host.metrics().Count("fedavg.late_replies", 1);
    return;
  }
  // DropsBeforeDecoding took this round's updates of the others.
  MURMUR_CHECK(selected_.count(from) && !replied_.count(from));
  if (message->weight == 0) {
    host.ReportBadPeer(from, Status::Corrupt("FedAvg: update with zero samples"));
    return;
  }
  replied_.insert(from);
  down_.erase(from);
  clip_bit_sum_ += clip_bit;
  double weight = static_cast<double>(message->weight);
  if (options_.dp.enabled()) {
    weight = 1;
    if (options_.dp.mode == privacy::DpMode::kCentral) {
      if (privacy::ClipChangeAndNoise(global_, message->params, clip_, 0,
                                      host.privacy_rng()) <= clip_) {
        ++within_clip_;
      } else {
        host.metrics().Count("privacy.clipped_updates", 1);
      }
    }
  }
  AddReply(std::move(message->params), weight);
  if (AllAwaitedReplied()) FinishRound(host);
}

bool FedAvgServer::DropsBeforeDecoding(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  // Both update formats begin with a MessageHeader; a header of another
  // kind, or none, is left to the decoder to refuse.
  ByteReader in(bytes);
  const Result<MessageHeader> header = ReadMessageHeader(
      in, {local_adaptive() ? MessageKind::kFedAvgDpUpdate : MessageKind::kFedAvgUpdate},
      "FedAvg update");
  if (!header.ok() || done_ || header->round.value != round_ + 1) return false;
  const bool unselected = selected_.count(from) == 0;
  if (!unselected && !replied_.count(from)) return false;
  // A client not selected for this round may still answer it once: a
  // restored server's pick differs from the killed one's, which sent it
  // this round's model. A selected one may answer twice: once the killed
  // server, once the resent model (fedavg.h). One such update per client
  // and round is dropped unread; a further one is a bad peer's, so that an
  // insider cannot make the server read updates without end.
  if (!extra_update_.insert(from).second) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "FedAvg: a further ", unselected ? "unsolicited" : "duplicate",
                                 " update from peer ", from, " for round ", header->round));
    return true;
  }
  host.metrics().Count(unselected ? "fedavg.unselected_updates" : "fedavg.duplicate_updates", 1);
  return true;
}

bool FedAvgServer::local_adaptive() const {
  return options_.dp.mode == privacy::DpMode::kLocal && options_.dp.adaptive_clip;
}

Result<ModelMessage> FedAvgServer::DecodeUpdate(std::span<const uint8_t> bytes,
                                                double* clip_bit) const {
  if (!local_adaptive()) {
    return DecodeModelMessage(bytes, ModelMessageKind::kFedAvgUpdate, global_.size());
  }
  MURMUR_ASSIGN_OR_RETURN(DpFedAvgMessage dp,
                          DecodeDpFedAvgMessage(bytes, DpFedAvgKind::kUpdate, global_.size()));
  *clip_bit = dp.value;
  // Private runs weight clients equally: no sample count on this wire.
  return ModelMessage{.kind = ModelMessageKind::kFedAvgUpdate, .round = dp.round, .weight = 1,
                      .params = std::move(dp.params)};
}

bool FedAvgServer::AllAwaitedReplied() const {
  for (PeerId client : selected_) {
    if (!replied_.count(client) && !down_.count(client)) return false;
  }
  return true;
}

void FedAvgServer::OnPeerDown(Host& host, PeerId peer) {
  if (std::find(clients_.begin(), clients_.end(), peer) == clients_.end() ||
      !down_.insert(peer).second) {
    return;
  }
  host.metrics().Count("fedavg.clients_down", 1);
  if (!done_ && selected_.count(peer) && !replied_.count(peer) && AllAwaitedReplied()) {
    FinishRound(host);
  }
}

void FedAvgServer::AddReply(std::vector<float> model, double weight) {
  if (combiner_ != nullptr) {
    replies_.push_back(std::move(model));
    reply_weights_.push_back(weight);
  } else {
    for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += weight * model[i];
  }
  total_weight_ += weight;
}

void FedAvgServer::OnTimer(Host& host, TimerId timer) {
  if (!done_ && timer == timeout_timer_) {
    host.metrics().Count("fedavg.round_timeouts", 1);
    FinishRound(host);
  }
}

void FedAvgServer::FinishRound(Host& host) {
  // The round's aggregate goes to average_; the server optimizer then moves
  // the global model towards it (the default replaces it).
  bool aggregated = false;
  if (combiner_ != nullptr && !replies_.empty()) {
    std::vector<std::span<const float>> replies(replies_.begin(), replies_.end());
    average_ = global_;  // the reference the rule may use; overwritten
    const Status status = combiner_->Combine(average_, replies, OwnModel::kReferenceOnly,
                                             reply_weights_, host.rng());
    if (status.ok()) {
      aggregated = true;
    } else {
      host.metrics().Count("robust.failed_aggregations", 1);
    }
  } else if (combiner_ == nullptr && total_weight_ > 0) {
    average_.resize(global_.size());
    for (size_t i = 0; i < global_.size(); ++i) {
      average_[i] = static_cast<float>(sum_[i] / total_weight_);
    }
    // Central DP: noise z C on the sum of the total_weight_ (= replies)
    // clipped updates, so z C / replies on their average.
    if (options_.dp.mode == privacy::DpMode::kCentral && options_.update_noise_multiplier > 0) {
      privacy::AddGaussianNoise(options_.update_noise_multiplier * clip_ / total_weight_,
                                host.privacy_rng(), average_);
    }
    if (options_.dp.mode == privacy::DpMode::kCentral && options_.dp.adaptive_clip) {
      clip_ = privacy::NextClipNorm(options_.dp.adaptive, clip_, within_clip_,
                                    static_cast<int64_t>(total_weight_), host.privacy_rng());
    }
    if (local_adaptive()) {
      clip_ = privacy::NextClipNormFromBits(options_.dp.adaptive, clip_, clip_bit_sum_,
                                            static_cast<int64_t>(total_weight_));
    }
    aggregated = true;
  }
  if (aggregated) {
    server_optimizer_.Step(global_, average_);
  } else if (total_weight_ == 0) {
    // Nothing arrived in time: the global model stays as it was.
    host.metrics().Count("fedavg.empty_rounds", 1);
  }
  ++round_;
  host.metrics().ReportModel(RoundOf(round_), global_);
  StartRound(host);
}

FedAvgClient::FedAvgClient(Learner& learner, const FedAvgOptions& options,
                           PeerId server)
    : learner_(learner), options_(options), server_(server), clip_(options.dp.clip) {}

void FedAvgClient::OnMessage(Host& host, PeerId from,
                             std::span<const uint8_t> bytes) {
  if (from != server_) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 options_.fedprox ? "FedProx client" : "FedAvg client",
                                 ": message from non-server peer ", from));
    return;
  }
  if (options_.compression.enabled()) {
    OnCodedGlobal(host, bytes);
    return;
  }
  Result<ModelMessage> message = Status::Internal("unset");
  double clip = options_.dp.clip;
  if (options_.dp.mode == privacy::DpMode::kLocal && options_.dp.adaptive_clip) {
    Result<DpFedAvgMessage> dp =
        DecodeDpFedAvgMessage(bytes, DpFedAvgKind::kGlobal, learner_.params().size());
    if (dp.ok()) {
      clip = dp->value;
      message = ModelMessage{.kind = ModelMessageKind::kFedAvgGlobal, .round = dp->round,
                             .params = std::move(dp->params)};
    } else {
      message = dp.status();
    }
  } else {
    message = DecodeModelMessage(bytes, ModelMessageKind::kFedAvgGlobal,
                                 learner_.params().size());
  }
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  if (training_ && message->round == training_round_) {
    // A restored server resent the round being trained (fedavg.h).
    host.metrics().Count("fedavg.resent_rounds", 1);
    return;
  }
  if (training_) {
    pending_global_ = std::move(message->params);
    pending_round_ = message->round;
    pending_clip_ = clip;
    return;
  }
  clip_ = clip;
  Train(host, message->round, message->params);
}

void FedAvgClient::Train(Host& host, Round round,
                         const std::vector<float>& global) {
  std::span<float> x = learner_.params();
  std::copy(global.begin(), global.end(), x.begin());
  if (options_.compression.enabled() || options_.dp.enabled()) start_ = global;
  learner_.ResetOptimizer();
  if (options_.fedprox) learner_.SetProximalTerm(options_.fedprox->mu, global);
  steps_ = LocalSteps(host);
  started_ = host.now();
  training_ = true;
  training_round_ = round;
  host.RunCompute(TrainTask(learner_, steps_, &last_loss_, round.value));
}

int64_t FedAvgClient::LocalSteps(Host& host) const {
  // u = n_k / B steps per epoch (the Learner draws whole batches only).
  const int64_t steps_per_epoch =
      std::max<int64_t>(1, learner_.shard_size() / learner_.batch_size());
  const int64_t full = options_.local_epochs * steps_per_epoch;
  if (!options_.fedprox || options_.fedprox->local_time_budget.ns <= 0 ||
      seconds_per_step_ <= 0) {
    return full;
  }
  const auto fit = static_cast<int64_t>(
      std::floor(options_.fedprox->local_time_budget.seconds() / seconds_per_step_));
  const int64_t steps = std::clamp<int64_t>(fit, 1, full);
  if (steps < full) host.metrics().Count("fedprox.partial_updates", 1);
  return steps;
}

void FedAvgClient::OnComputeDone(Host& host, uint64_t tag) {
  training_ = false;
  if (steps_ > 0) seconds_per_step_ = (host.now() - started_).seconds() / steps_;
  const Round round(static_cast<uint32_t>(tag));
  host.metrics().ReportTrainLoss(round, last_loss_);
  if (options_.compression.enabled()) {
    SendCodedUpdate(host, round);
  } else if (options_.dp.mode == privacy::DpMode::kLocal) {
    SendPrivateUpdate(host, round);
  } else {
    host.Send(server_, EncodeModelMessage(
                           ModelMessageKind::kFedAvgUpdate, round,
                           static_cast<uint64_t>(learner_.shard_size()),
                           learner_.params()));
  }
  if (!pending_global_.empty()) {
    std::vector<float> global = std::move(pending_global_);
    pending_global_.clear();
    clip_ = pending_clip_;
    Train(host, pending_round_, global);
  }
}

void FedAvgClient::SendPrivateUpdate(Host& host, Round round) {
  std::vector<float> update(learner_.params().begin(), learner_.params().end());
  // The noise scales with the round's clip (z clip / sqrt(m) per client).
  const double stddev = options_.client_noise_stddev * clip_ / options_.dp.clip;
  const double norm =
      privacy::ClipChangeAndNoise(start_, update, clip_, stddev, host.privacy_rng());
  if (norm > clip_) host.metrics().Count("privacy.clipped_updates", 1);
  if (options_.dp.adaptive_clip) {
    // Clamping the noised bit is post-processing; it binds only at absurd
    // count noise, and keeps the message within its decoder's bound.
    const double bit = std::clamp(
        privacy::NoisyClipBit(norm, clip_, options_.client_bit_noise_stddev, host.privacy_rng()),
        -kMaxDpClipBit, kMaxDpClipBit);
    host.Send(server_, EncodeDpFedAvgMessage(DpFedAvgKind::kUpdate, round, bit, update));
    return;
  }
  host.Send(server_, EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, round,
                                        static_cast<uint64_t>(learner_.shard_size()), update));
}

bool FedAvgServer::IndependentOfOtherNodes() const {
  return combiner_ == nullptr || combiner_->is_plain_average();
}

}  // namespace murmur
