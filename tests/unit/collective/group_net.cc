#include "group_net.h"

#include <algorithm>

namespace murmur::collective::test {

GroupNet::GroupNet(int n, CollectiveOptions options, uint64_t seed)
    : options_(options), rng_(seed) {
  std::vector<PeerId> members;
  for (int i = 0; i < n; ++i) members.push_back(PeerId(i));
  for (int i = 0; i < n; ++i) {
    Peer& p = peers_[i];
    p.host = std::make_unique<testing::FakeHost>(PeerId(i));
    p.group = std::make_unique<CollectiveGroup>(options, PeerId(i), members);
  }
}

void GroupNet::AddJoiner(PeerId id, std::vector<PeerId> contacts, uint64_t incarnation) {
  Peer& p = peers_[id.value];
  // Keep the shared clock: a joiner starts at the others' time.
  const SimTime now = peers_.begin()->second.host->now();
  p.host = std::make_unique<testing::FakeHost>(id);
  p.host->Advance(now - SimTime{});
  p.group = CollectiveGroup::Joining(options_, id, std::move(contacts), incarnation);
  p.alive = true;
  p.sync = nullptr;
  // Messages still queued to or from the old incarnation are gone.
  for (auto& [link, queue] : links_) {
    if (link.first == id.value || link.second == id.value) queue.clear();
  }
}

void GroupNet::RestartAsFounder(PeerId id, std::vector<PeerId> members) {
  AddJoiner(id, {}, 0);
  peers_[id.value].group = std::make_unique<CollectiveGroup>(options_, id, std::move(members));
}

std::vector<PeerId> GroupNet::Alive() const {
  std::vector<PeerId> alive;
  for (const auto& [id, p] : peers_) {
    if (p.alive) alive.push_back(PeerId(id));
  }
  return alive;
}

void GroupNet::CrashBefore(PeerId peer, uint64_t index, bool notify_down) {
  crash_at_ = {peer, index};
  crash_notify_ = notify_down;
}

void GroupNet::Crash(PeerId peer, bool notify_down) {
  Collect();
  Peer& p = peers_.at(peer.value);
  p.alive = false;
  p.host->sent.clear();
  for (auto& [link, queue] : links_) {
    if (link.second == peer.value) queue.clear();
  }
  if (!notify_down) return;
  for (const auto& [id, other] : peers_) {
    if (id != peer.value && other.alive) {
      links_[{peer.value, id}].push_back(InFlight{{}, /*down_notice=*/true});
    }
  }
}

void GroupNet::Collect() {
  for (auto& [id, p] : peers_) {
    for (auto& sent : p.host->sent) {
      if (p.alive) links_[{id, sent.to.value}].push_back(InFlight{std::move(sent.bytes), false});
    }
    p.host->sent.clear();
  }
}

size_t GroupNet::CountInFlight(const std::function<bool(std::span<const uint8_t>)>& pred) {
  Collect();
  size_t count = 0;
  for (const auto& [link, queue] : links_) {
    for (const InFlight& m : queue) count += !m.down_notice && pred(m.bytes);
  }
  return count;
}

bool GroupNet::DeliverOne() {
  Collect();
  std::vector<std::pair<uint32_t, uint32_t>> ready;
  for (const auto& [link, queue] : links_) {
    if (!queue.empty()) ready.push_back(link);
  }
  if (ready.empty()) return false;
  if (crash_at_ && crash_at_->second == delivered_) {
    const PeerId victim = crash_at_->first;
    crash_at_.reset();
    Crash(victim, crash_notify_);
    return true;
  }
  const auto link = ready[rng_() % ready.size()];
  InFlight msg = std::move(links_[link].front());
  links_[link].pop_front();
  ++delivered_;
  Peer& to = peers_.at(link.second);
  if (!to.alive) return true;
  if (msg.down_notice) {
    to.group->OnPeerDown(*to.host, PeerId(link.first));
    if (to.sync) to.sync->OnPeerDown(*to.host, PeerId(link.first));
  } else if (to.sync && IsStateSyncMessage(msg.bytes)) {
    to.sync->OnMessage(*to.host, PeerId(link.first), msg.bytes);
  } else {
    to.group->OnMessage(*to.host, PeerId(link.first), msg.bytes);
  }
  if (after_delivery) after_delivery();
  return true;
}

void GroupNet::Drain() {
  while (DeliverOne()) {
  }
}

void GroupNet::FireTimers() {
  for (auto& [id, p] : peers_) {
    p.host->Advance(options_.timeout);
  }
  for (auto& [id, p] : peers_) {
    if (!p.alive) continue;
    std::vector<TimerId> timers = std::move(p.host->timers);
    p.host->timers.clear();
    for (TimerId t : timers) {
      if (!p.group->OnTimer(*p.host, t) && p.sync) (void)p.sync->OnTimer(*p.host, t);
    }
  }
}

bool GroupNet::Run(const std::function<bool()>& done, int max_timer_rounds) {
  for (int round = 0;; ++round) {
    Drain();
    if (done()) return true;
    if (round >= max_timer_rounds) return false;
    FireTimers();
  }
}

}  // namespace murmur::collective::test
