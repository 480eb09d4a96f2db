#include "murmur/protocol/fedcompass.h"

#include <algorithm>
#include <cmath>

namespace murmur {

FedCompassServer::FedCompassServer(std::vector<float> initial_model,
                                   const FedCompassOptions& options,
                                   std::vector<PeerId> clients)
    : options_(options),
      core_(std::move(initial_model), std::move(clients), options.task_timeout, "fedcompass"),
      server_optimizer_(options.server_optimizer) {
  MURMUR_CHECK(options_.min_steps >= 1 && options_.min_steps <= options_.max_steps);
  MURMUR_CHECK(options_.lambda >= 1);
}

int64_t FedCompassServer::assigned_steps(PeerId client) const {
  auto it = steps_.find(client);
  return it == steps_.end() ? 0 : it->second;
}

void FedCompassServer::OnStart(Host& host) {
  host.metrics().ReportModel(Round(0), core_.global());
  if (options_.rounds <= 0) return;
  for (PeerId client : core_.clients()) Assign(host, client);
}

void FedCompassServer::Assign(Host& host, PeerId client) {
  auto speed = seconds_per_step_.find(client);
  if (speed == seconds_per_step_.end()) {
    steps_[client] = options_.max_steps;
    core_.Dispatch(host, client, static_cast<uint64_t>(options_.max_steps));
    return;
  }
  const double sps = speed->second;
  const double overhead = core_.LastOverheadSeconds(client);
  const SimTime now = host.now();
  int64_t best_group = -1;
  int64_t best_steps = 0;
  for (const auto& [id, group] : groups_) {
    if (group.expected <= now) continue;
    const double available = (group.expected - now).seconds() - overhead;
    const auto q = static_cast<int64_t>(std::floor(available / sps));
    if (q >= options_.min_steps && q <= options_.max_steps && q > best_steps) {
      best_group = id;
      best_steps = q;
    }
  }
  if (best_group < 0) {
    // Nobody to arrive with: open a group around this client's full task.
    const double span_s = overhead + static_cast<double>(options_.max_steps) * sps;
    Group group{.created = now,
                .expected = now + Duration::Seconds(span_s),
                .latest = now + Duration::Seconds(options_.lambda * span_s)};
    group.timer = host.StartTimer(group.latest - now);
    best_group = next_group_++;
    best_steps = options_.max_steps;
    groups_.emplace(best_group, std::move(group));
    host.metrics().Count("fedcompass.groups", 1);
  }
  groups_[best_group].members.push_back(client);
  group_of_[client] = best_group;
  steps_[client] = best_steps;
  core_.Dispatch(host, client, static_cast<uint64_t>(best_steps));
}

void FedCompassServer::OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes) {
  std::optional<AsyncMessage> update = core_.Accept(host, from, bytes);
  if (!update) return;
  if (update->steps > 0 && update->compute_s > 0) {
    seconds_per_step_[from] = update->compute_s / static_cast<double>(update->steps);
  }
  auto member = group_of_.find(from);
  if (member == group_of_.end()) {
    // A first task, or a member whose group already closed without it.
    std::vector<Arrival> alone;
    alone.push_back(Arrival{from, std::move(*update), host.now()});
    Aggregate(host, std::move(alone));
    Reassign(host, from);
    return;
  }
  const int64_t id = member->second;
  group_of_.erase(member);
  Group& group = groups_.at(id);
  group.arrived.push_back(Arrival{from, std::move(*update), host.now()});
  if (group.arrived.size() == group.members.size()) CloseGroup(host, id);
}

void FedCompassServer::CloseGroup(Host& host, int64_t id) {
  auto it = groups_.find(id);
  if (it == groups_.end()) return;
  Group group = std::move(it->second);
  groups_.erase(it);
  for (PeerId member : group.members) {
    auto m = group_of_.find(member);
    if (m != group_of_.end() && m->second == id) {
      group_of_.erase(m);
      host.metrics().Count("fedcompass.missed_groups", 1);
    }
  }
  std::vector<PeerId> arrived;
  for (const Arrival& a : group.arrived) arrived.push_back(a.client);
  if (!arrived.empty()) {
    ++stats_.closed;
    stats_.arrivals += static_cast<int64_t>(arrived.size());
    if (arrived.size() == group.members.size()) ++stats_.complete;
  }
  if (arrived.size() >= 2) {
    auto [first, last] = std::minmax_element(
        group.arrived.begin(), group.arrived.end(),
        [](const Arrival& a, const Arrival& b) { return a.at < b.at; });
    const double span = (group.expected - group.created).seconds();
    if (span > 0) {
      stats_.max_spread = std::max(stats_.max_spread, (last->at - first->at).seconds() / span);
    }
  }
  if (!group.arrived.empty()) Aggregate(host, std::move(group.arrived));
  for (PeerId client : arrived) Reassign(host, client);
}

void FedCompassServer::Aggregate(Host& host, std::vector<Arrival> arrivals) {
  for (const Arrival& a : arrivals) {
    samples_[a.client] = static_cast<double>(std::max<uint64_t>(a.update.samples, 1));
  }
  if (core_.version() >= options_.rounds) return;
  // N: all clients' samples, extrapolated from those heard from so far.
  double known = 0;
  for (const auto& [client, n] : samples_) known += n;
  const double total = known * static_cast<double>(core_.clients().size()) /
                       static_cast<double>(samples_.size());
  std::span<const float> x = core_.global();
  std::vector<double> sum(x.size(), 0.0);
  for (const Arrival& a : arrivals) {
    const double w = samples_[a.client] / total *
                     StalenessWeight(options_.staleness, core_.Staleness(a.update));
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += w * a.update.values[i];
  }
  target_.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) target_[i] = static_cast<float>(x[i] + sum[i]);
  server_optimizer_.Step(core_.global(), target_);
  core_.Publish(host);
}

void FedCompassServer::Reassign(Host& host, PeerId client) {
  if (core_.version() >= options_.rounds || core_.IsBusy(client) || core_.IsDown(client)) return;
  Assign(host, client);
}

void FedCompassServer::OnTimer(Host& host, TimerId timer) {
  for (const auto& [id, group] : groups_) {
    if (group.timer == timer) {
      host.metrics().Count("fedcompass.groups_closed_at_latest", 1);
      CloseGroup(host, id);
      return;
    }
  }
  std::optional<PeerId> expired = core_.ExpireTask(host, timer);
  if (!expired) return;
  LeaveGroup(host, *expired);
  // It may be back by now; if not, this task times out too.
  Reassign(host, *expired);
}

void FedCompassServer::LeaveGroup(Host& host, PeerId client) {
  auto member = group_of_.find(client);
  if (member == group_of_.end()) return;
  const int64_t id = member->second;
  group_of_.erase(member);
  Group& group = groups_.at(id);
  std::erase(group.members, client);
  if (!group.arrived.empty() && group.arrived.size() == group.members.size()) {
    CloseGroup(host, id);
  }
}

void FedCompassServer::OnPeerDown(Host& host, PeerId peer) {
  if (core_.ClientDown(host, peer)) LeaveGroup(host, peer);
}

void FedCompassServer::OnPeerUp(Host& host, PeerId peer) {
  core_.ClientUp(peer);
  Reassign(host, peer);
}

}  // namespace murmur
