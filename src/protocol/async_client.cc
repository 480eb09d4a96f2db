#include "murmur/protocol/async_client.h"

#include <algorithm>

#include "murmur/protocol/train_task.h"

namespace murmur {

AsyncClient::AsyncClient(Learner& learner, const AsyncClientOptions& options, PeerId server)
    : learner_(learner), options_(options), server_(server) {}

void AsyncClient::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  if (from != server_) {
    host.ReportBadPeer(from, Status::InvalidArgument(
                                 "async FL client: message from non-server peer ", from));
    return;
  }
  Result<AsyncMessage> task =
      DecodeAsyncMessage(bytes, AsyncMessageKind::kTask, learner_.params().size());
  if (!task.ok()) {
    host.ReportBadPeer(from, task.status());
    return;
  }
  if (training_) {
    pending_ = std::move(*task);
    has_pending_ = true;
    return;
  }
  Train(host, std::move(*task));
}

void AsyncClient::Train(Host& host, AsyncMessage task) {
  std::span<float> x = learner_.params();
  std::copy(task.values.begin(), task.values.end(), x.begin());
  learner_.ResetOptimizer();
  learner_.SetProximalTerm(options_.proximal_mu, task.values);
  if (options_.form == AsyncUpdateForm::kDelta) start_ = std::move(task.values);
  version_ = task.version;
  steps_ = task.steps;
  started_ = host.now();
  training_ = true;
  host.RunCompute(TrainTask(learner_, static_cast<int64_t>(steps_), &last_loss_, version_));
}

void AsyncClient::OnComputeDone(Host& host, uint64_t /*tag*/) {
  training_ = false;
  host.metrics().ReportTrainLoss(Round(version_ + 1), last_loss_);
  AsyncMessage update{.kind = AsyncMessageKind::kUpdate,
                      .version = version_,
                      .samples = static_cast<uint64_t>(learner_.shard_size()),
                      .steps = steps_,
                      .compute_s = (host.now() - started_).seconds()};
  std::span<const float> x = learner_.params();
  update.values.assign(x.begin(), x.end());
  if (options_.form == AsyncUpdateForm::kDelta) {
    for (size_t i = 0; i < start_.size(); ++i) update.values[i] -= start_[i];
  }
  host.Send(server_, EncodeAsyncMessage(update));
  if (has_pending_) {
    has_pending_ = false;
    Train(host, std::move(pending_));
  }
}

}  // namespace murmur
