#include "murmur/protocol/fedprox.h"

#include <algorithm>
#include <cmath>

#include "murmur/protocol/model_message.h"
#include "murmur/protocol/train_task.h"

namespace murmur {

FedProxClient::FedProxClient(Learner& learner, const FedProxOptions& options, PeerId server)
    : learner_(learner), options_(options), server_(server) {}

void FedProxClient::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (from != server_) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "FedProx client: message from non-server peer ", from));
    return;
  }
  Result<ModelMessage> message = DecodeModelMessage(
      bytes, ModelMessageKind::kFedAvgGlobal, learner_.params().size());
  if (!message.ok()) {
    host.ReportBadPeer(from, message.status());
    return;
  }
  if (training_) {
    pending_global_ = std::move(message->params);
    pending_round_ = message->round;
    return;
  }
  Train(host, message->round, message->params);
}

void FedProxClient::Train(Host& host, Round round, const std::vector<float>& global) {
  std::span<float> x = learner_.params();
  std::copy(global.begin(), global.end(), x.begin());
  learner_.ResetOptimizer();
  learner_.SetProximalTerm(options_.mu, global);
  const int64_t steps_per_epoch =
      std::max<int64_t>(1, learner_.shard_size() / learner_.batch_size());
  const int64_t full = options_.local_epochs * steps_per_epoch;
  steps_ = full;
  if (options_.local_time_budget.ns > 0 && seconds_per_step_ > 0) {
    const auto fit = static_cast<int64_t>(
        std::floor(options_.local_time_budget.seconds() / seconds_per_step_));
    steps_ = std::clamp<int64_t>(fit, 1, full);
    if (steps_ < full) host.metrics().Count("fedprox.partial_updates", 1);
  }
  started_ = host.now();
  training_ = true;
  host.RunCompute(TrainTask(learner_, steps_, &last_loss_, round.value));
}

void FedProxClient::OnComputeDone(Host& host, uint64_t tag) {
  training_ = false;
  if (steps_ > 0) seconds_per_step_ = (host.now() - started_).seconds() / steps_;
  const Round round(static_cast<uint32_t>(tag));
  host.metrics().ReportTrainLoss(round, last_loss_);
  host.Send(server_, EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, round,
                                        static_cast<uint64_t>(learner_.shard_size()),
                                        learner_.params()));
  if (!pending_global_.empty()) {
    std::vector<float> global = std::move(pending_global_);
    pending_global_.clear();
    Train(host, pending_round_, global);
  }
}

}  // namespace murmur
