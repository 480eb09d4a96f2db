// The client of FedAvg with secure aggregation (fedavg_secagg.h): trains
// like a FedAvg client, then plays its part of privacy::SecAggClient's four
// phases with the update (model - global) as its input (in fixed point, or
// as RQM level indices).
#include <algorithm>
#include <cmath>

#include "murmur/privacy/client_dp.h"
#include "murmur/privacy/mechanisms.h"
#include "murmur/protocol/fedavg_secagg.h"
#include "murmur/protocol/message_kind.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

SecAggFedAvgClient::SecAggFedAvgClient(Learner& learner, const SecAggFedAvgOptions& options,
                                       PeerId server)
    : learner_(learner), options_(options), server_(server) {}

SecAggFedAvgClient::~SecAggFedAvgClient() = default;

void SecAggFedAvgClient::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (from != server_) {
    host.ReportBadPeer(from, Status::InvalidArgument("secagg FedAvg client: message from "
                                                     "non-server peer ", from));
    return;
  }
  if (PeekMessageKind(bytes) == MessageKind::kSecAggSetup) {
    Result<SecAggSetup> setup =
        DecodeSecAggSetup(bytes, learner_.params().size(), SecAggAdaptiveClipping(options_));
    if (!setup.ok()) {
      host.ReportBadPeer(from, setup.status());
    } else if (training_) {
      pending_ = std::move(*setup);
    } else {
      Begin(host, std::move(*setup));
    }
    return;
  }
  Result<SecAggPhaseMessage> message = DecodeSecAggPhase(bytes, SecAggDirection::kToClient);
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  if (secagg_ == nullptr || training_ || message->round != round_) {
    host.metrics().Count("secagg.late_messages", 1);
    return;
  }
  OnPhase(host, *message);
}

void SecAggFedAvgClient::Begin(Host& host, SecAggSetup setup) {
  Leave();
  // The round's threshold and graph follow from the run's config and the
  // round's size, not from the server's word.
  const bool adaptive = SecAggAdaptiveClipping(options_);
  Result<privacy::SecAggConfig> config = privacy::MakeRoundConfig(
      options_.secagg, setup.clients, static_cast<uint32_t>(setup.global.size() + (adaptive ? 1 : 0)),
      setup.graph_seed);
  if (!config.ok()) {
    host.ReportBadPeer(server_, config.status());
    return;
  }
  config_ = std::make_unique<privacy::SecAggConfig>(std::move(*config));
  const privacy::Secret32 entropy = options_.system_entropy ? privacy::SystemEntropy()
                                                            : privacy::SeededEntropy(host.rng());
  secagg_ = std::make_unique<privacy::SecAggClient>(config_.get(), setup.index, entropy);
  round_ = setup.round;
  clip_ = adaptive ? setup.clip : options_.fedavg.dp.clip;
  start_ = std::move(setup.global);
  std::copy(start_.begin(), start_.end(), learner_.params().begin());
  learner_.ResetOptimizer();
  // E epochs of n_k / B steps, as FedAvgClient.
  const int64_t steps = options_.fedavg.local_epochs *
                        std::max<int64_t>(1, learner_.shard_size() / learner_.batch_size());
  training_ = true;
  host.RunCompute(TrainTask(learner_, steps, &last_loss_, round_.value));
}

void SecAggFedAvgClient::OnComputeDone(Host& host, uint64_t tag) {
  training_ = false;
  host.metrics().ReportTrainLoss(Round(static_cast<uint32_t>(tag)), last_loss_);
  if (pending_) {
    // The server moved on while this client trained: join the new round.
    SecAggSetup setup = std::move(*pending_);
    pending_.reset();
    Begin(host, std::move(setup));
    return;
  }
  if (secagg_ == nullptr) return;
  std::vector<float> model(learner_.params().begin(), learner_.params().end());
  const privacy::DpConfig& dp = options_.fedavg.dp;
  double norm = 0;
  if (dp.mode == privacy::DpMode::kLocal) {
    // The noise scales with the round's clip (z clip / sqrt(m) per client).
    const double stddev = options_.fedavg.client_noise_stddev * clip_ / dp.clip;
    norm = privacy::ClipChangeAndNoise(start_, model, clip_, stddev, host.privacy_rng());
    if (norm > clip_) host.metrics().Count("privacy.clipped_updates", 1);
  }
  const bool adaptive = SecAggAdaptiveClipping(options_);
  update_.resize(model.size() + (adaptive ? 1 : 0));
  int64_t clamped = 0;
  const double max_abs = options_.secagg.fixed_point.max_abs;
  for (size_t i = 0; i < model.size(); ++i) {
    update_[i] = model[i] - start_[i];
    clamped += std::fabs(update_[i]) > max_abs ? 1 : 0;
  }
  if (adaptive) {
    // The noisy centred bit, masked like the update (clamped to the fixed
    // point's range like any coordinate: post-processing of this client's
    // share, binding only at absurd count noise).
    const double bit =
        privacy::NoisyClipBit(norm, clip_, options_.fedavg.client_bit_noise_stddev,
                              host.privacy_rng());
    clamped += std::fabs(bit) > max_abs ? 1 : 0;
    update_.back() = static_cast<float>(std::clamp(bit, -max_abs, max_abs));
    last_clip_bit_ = update_.back();
  }
  if (options_.secagg.encoding == privacy::SecAggEncoding::kRqm) {
    // RQM clamps to its own clip, not to the fixed point's range.
    clamped = 0;
    for (float u : update_) clamped += std::fabs(u) > options_.secagg.rqm.clip ? 1 : 0;
  }
  ring_input_ = privacy::EncodeRoundInput(options_.secagg, update_, host.privacy_rng());
  // Encoding clamps these to +-max_abs (RQM: +-clip): the sum is then not the plain one.
  if (clamped > 0) host.metrics().Count("secagg.clamped_values", clamped);
  Send(host, 0, secagg_->AdvertiseKeys());
}

void SecAggFedAvgClient::OnPhase(Host& host, const SecAggPhaseMessage& message) {
  Result<privacy::Bytes> reply = Status::Internal("secagg client: no phase");
  switch (message.phase) {
    case 0: reply = secagg_->ShareKeys(message.bytes); break;
    case 1:
      reply = options_.secagg.encoding == privacy::SecAggEncoding::kRqm
                  ? secagg_->MaskedRingInput(message.bytes, ring_input_)
                  : secagg_->MaskedInput(message.bytes, update_);
      break;
    default: reply = secagg_->Unmask(message.bytes); break;
  }
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kAborted) {
      host.metrics().Count("secagg.client_aborts", 1);
    } else {
      host.ReportBadPeer(server_, reply.status());
    }
    Leave();
    return;
  }
  Send(host, static_cast<uint8_t>(message.phase + 1), *reply);
  if (message.phase + 1 == kSecAggClientPhases - 1) Leave();  // its last message is out
}

void SecAggFedAvgClient::Send(Host& host, uint8_t phase, std::span<const uint8_t> bytes) {
  host.Send(server_, EncodeSecAggPhase(SecAggDirection::kToServer, round_, phase, bytes));
}

void SecAggFedAvgClient::Leave() {
  secagg_.reset();
  config_.reset();
}

}  // namespace murmur
