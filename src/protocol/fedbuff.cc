#include "murmur/protocol/fedbuff.h"

#include <algorithm>

namespace murmur {

FedBuffServer::FedBuffServer(std::vector<float> initial_model, const FedBuffOptions& options,
                             std::vector<PeerId> clients)
    : options_(options),
      core_(std::move(initial_model), std::move(clients), options.task_timeout, "fedbuff"),
      server_optimizer_(options.server_optimizer),
      buffer_(core_.global().size(), 0.0) {
  MURMUR_CHECK(options_.buffer_size >= 1);
}

void FedBuffServer::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), core_.global());
  FillSlots(host);
}

void FedBuffServer::FillSlots(Host& host) {
  core_.FillSlots(host, options_.max_concurrency, static_cast<uint64_t>(options_.local_steps),
                  options_.rounds);
}

void FedBuffServer::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  std::optional<AsyncMessage> update = core_.Accept(host, from, bytes);
  if (!update) return;
  if (core_.version() >= options_.rounds) return;
  const double s = StalenessWeight(options_.staleness, core_.Staleness(*update));
  for (size_t i = 0; i < buffer_.size(); ++i) buffer_[i] += s * update->values[i];
  ++buffered_;
  if (buffered_ == options_.buffer_size) {
    std::span<const float> x = core_.global();
    target_.resize(x.size());
    const auto k = static_cast<double>(options_.buffer_size);
    for (size_t i = 0; i < x.size(); ++i) {
      target_[i] = static_cast<float>(x[i] + buffer_[i] / k);
    }
    server_optimizer_.Step(core_.global(), target_);
    std::fill(buffer_.begin(), buffer_.end(), 0.0);
    buffered_ = 0;
    core_.Publish(host);
  }
  FillSlots(host);
}

void FedBuffServer::OnTimer(Host& host, TimerId timer) {
  if (core_.ExpireTask(host, timer)) FillSlots(host);
}

void FedBuffServer::OnPeerDown(Host& host, PeerId peer) {
  if (core_.ClientDown(host, peer)) FillSlots(host);
}

void FedBuffServer::OnPeerUp(Host& host, PeerId peer) {
  core_.ClientUp(peer);
  FillSlots(host);
}

}  // namespace murmur
