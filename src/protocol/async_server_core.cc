#include "murmur/protocol/async_server_core.h"

#include <algorithm>

namespace murmur {

AsyncServerCore::AsyncServerCore(std::vector<float> initial_model, std::vector<PeerId> clients,
                                 Duration task_timeout, std::string name)
    : global_(std::move(initial_model)),
      clients_(std::move(clients)),
      task_timeout_(task_timeout),
      name_(std::move(name)) {
  MURMUR_CHECK(!clients_.empty());
  MURMUR_CHECK(std::is_sorted(clients_.begin(), clients_.end()));
}

void AsyncServerCore::Dispatch(Host& host, PeerId client, uint64_t steps) {
  MURMUR_CHECK(!busy_.count(client));
  const auto version = static_cast<uint32_t>(version_);
  host.Send(client, EncodeAsyncMessage(AsyncMessage{.kind = AsyncMessageKind::kTask,
                                                    .version = version,
                                                    .steps = steps,
                                                    .values = global_}));
  Outstanding task{.version = version, .dispatched = host.now()};
  if (task_timeout_.ns > 0) task.timer = host.StartTimer(task_timeout_);
  busy_[client] = task;
}

std::optional<AsyncMessage> AsyncServerCore::Accept(Host& host, PeerId from,
                                                    std::span<const uint8_t> bytes) {
  if (!std::binary_search(clients_.begin(), clients_.end(), from)) {
    host.ReportBadPeer(from, Status::InvalidArgument(name_, ": update from peer ", from,
                                                     ", which is not a client"));
    return std::nullopt;
  }
  Result<AsyncMessage> update =
      DecodeAsyncMessage(bytes, AsyncMessageKind::kUpdate, global_.size());
  if (!update.ok()) {
    host.ReportBadPeer(from, update.status());
    return std::nullopt;
  }
  if (update->version > version_) {
    host.ReportBadPeer(from, Status::Corrupt(name_, ": update from peer ", from,
                                             " claims version ", update->version,
                                             " beyond the server's ", version_));
    return std::nullopt;
  }
  down_.erase(from);  // it sends, so it is up
  auto it = busy_.find(from);
  if (it == busy_.end() || it->second.version != update->version) {
    // The task timed out, or the run is over.
    host.metrics().Count(name_ + ".late_updates", 1);
    return std::nullopt;
  }
  overhead_s_[from] =
      std::max(0.0, (host.now() - it->second.dispatched).seconds() - update->compute_s);
  busy_.erase(it);
  return std::move(*update);
}

std::optional<PeerId> AsyncServerCore::ExpireTask(Host& host, TimerId timer) {
  for (auto it = busy_.begin(); it != busy_.end(); ++it) {
    if (task_timeout_.ns > 0 && it->second.timer == timer) {
      const PeerId client = it->first;
      busy_.erase(it);
      host.metrics().Count(name_ + ".task_timeouts", 1);
      return client;
    }
  }
  return std::nullopt;
}

bool AsyncServerCore::ClientDown(Host& host, PeerId client) {
  if (!std::binary_search(clients_.begin(), clients_.end(), client)) return false;
  down_.insert(client);
  if (busy_.erase(client) == 0) return false;
  host.metrics().Count(name_ + ".tasks_of_clients_down", 1);
  return true;
}

void AsyncServerCore::Publish(Host& host) {
  ++version_;
  host.metrics().ReportModel(RoundOf(version_), global_);
}

double AsyncServerCore::LastOverheadSeconds(PeerId client) const {
  auto it = overhead_s_.find(client);
  return it == overhead_s_.end() ? 0.0 : it->second;
}

void AsyncServerCore::FillSlots(Host& host, int64_t max_concurrency, uint64_t steps,
                                int64_t rounds) {
  if (version_ >= rounds) return;
  const auto n = static_cast<int64_t>(clients_.size());
  const int64_t slots = max_concurrency > 0 ? std::min(max_concurrency, n) : n;
  while (busy() < slots) {
    std::optional<PeerId> client = RandomIdleClient(host);
    if (!client) return;
    Dispatch(host, *client, steps);
  }
}

std::optional<PeerId> AsyncServerCore::RandomIdleClient(Host& host) const {
  std::vector<PeerId> idle;
  for (PeerId c : clients_) {
    if (!busy_.count(c) && !down_.count(c)) idle.push_back(c);
  }
  if (idle.empty()) return std::nullopt;
  return idle[host.rng().UniformInt(idle.size())];
}

}  // namespace murmur
