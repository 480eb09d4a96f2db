#include "murmur/protocol/fedasync.h"

#include <algorithm>

namespace murmur {

FedAsyncServer::FedAsyncServer(std::vector<float> initial_model, const FedAsyncOptions& options,
                               std::vector<PeerId> clients)
    : options_(options),
      core_(std::move(initial_model), std::move(clients), options.task_timeout, "fedasync") {
  MURMUR_CHECK(options_.alpha > 0 && options_.alpha <= 1);
}

void FedAsyncServer::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), core_.global());
  FillSlots(host);
}

void FedAsyncServer::FillSlots(Host& host) {
  core_.FillSlots(host, options_.max_concurrency, static_cast<uint64_t>(options_.local_steps),
                  options_.rounds);
}

void FedAsyncServer::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  std::optional<AsyncMessage> update = core_.Accept(host, from, bytes);
  if (!update) return;
  if (core_.version() >= options_.rounds) return;
  const double alpha = options_.alpha * StalenessWeight(options_.staleness, core_.Staleness(*update));
  std::vector<float>& x = core_.global();
  const auto a = static_cast<float>(alpha);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (1.0f - a) * x[i] + a * update->values[i];
  core_.Publish(host);
  // The client that just finished restarts from the newest model first.
  if (core_.version() < options_.rounds) {
    core_.Dispatch(host, from, static_cast<uint64_t>(options_.local_steps));
  }
  FillSlots(host);
}

void FedAsyncServer::OnTimer(Host& host, TimerId timer) {
  if (core_.ExpireTask(host, timer)) FillSlots(host);
}

void FedAsyncServer::OnPeerDown(Host& host, PeerId peer) {
  if (core_.ClientDown(host, peer)) FillSlots(host);
}

void FedAsyncServer::OnPeerUp(Host& host, PeerId peer) {
  core_.ClientUp(peer);
  FillSlots(host);
}

}  // namespace murmur
