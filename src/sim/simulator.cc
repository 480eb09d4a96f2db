#include "murmur/sim/simulator.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/log.h"
#include "sim/event_window.h"
#include "sim/peer_host.h"

namespace murmur {

Simulator::Simulator(const SimConfig& config, uint64_t seed,
                     std::vector<std::unique_ptr<Node>> nodes,
                     std::vector<MetricsSink*> sinks, ThreadPool& pool)
    : config_(config), seed_(seed), pool_(pool), nodes_(std::move(nodes)) {
  MURMUR_CHECK(sinks.size() == nodes_.size());
  const size_t n = nodes_.size();
  for (size_t i = 0; i < n; ++i) {
    const PeerId peer(static_cast<uint32_t>(i));
    hosts_.push_back(std::make_unique<PeerHost>(*this, peer, seed, *sinks[i]));
    loss_rng_.emplace_back(seed, peer, RngPurpose::kLinkLoss);
    churn_rng_.emplace_back(seed, peer, RngPurpose::kChurn);
    Rng device_rng(seed, peer, RngPurpose::kDevice);
    const double sigma = config.device.speed_sigma;
    // Log-normal with mean 1, so gflops stays the mean speed.
    speed_.push_back(std::exp(sigma * device_rng.Normal() - 0.5 * sigma * sigma));
  }
  online_.assign(n, true);
  crashed_.assign(n, false);
  stats_.peers.assign(n, PeerTraffic{});
  compute_.resize(n);
  compute_ran_.assign(n, false);
  timers_started_.assign(n, 0);
}

Simulator::~Simulator() = default;

bool Simulator::online(PeerId peer) const { return online_[peer.value]; }
double Simulator::device_speed(PeerId peer) const { return speed_[peer.value]; }
Node& Simulator::node(PeerId peer) { return *nodes_[peer.value]; }

void Simulator::Push(Event event) {
  event.seq = next_seq_++;
  // Churn and crash events alone do not keep a run going.
  if (event.kind != EventKind::kChurn && event.kind != EventKind::kCrash) ++live_events_;
  queue_.push(std::move(event));
}

void Simulator::Schedule(PeerId peer, Event event) {
  PeerLog* log = hosts_[peer.value]->log();
  if (log == nullptr) {
    Push(std::move(event));
    return;
  }
  if (event.time >= window_->end) {
    hosts_[peer.value]->Log(Op::Kind::kPush).event = std::move(event);
    return;
  }
  // The peer's own event inside the window: handled there, after every
  // event it had (its sequence is larger), numbered by the commit.
  const auto local = static_cast<int64_t>(log->local_seq.size());
  log->local_seq.push_back(0);
  Op& op = hosts_[peer.value]->Log(Op::Kind::kLocal);
  op.index = local;
  op.flag = event.kind != EventKind::kChurn && event.kind != EventKind::kCrash;
  event.seq = Window::kLocalSeq + static_cast<uint64_t>(local);
  log->heap.push_back(std::move(event));
  std::push_heap(log->heap.begin(), log->heap.end(), Later());
}

void Simulator::Send(PeerId from, PeerId to, SharedMessage message) {
  SendAs(from, to, std::move(message), online_[from.value] != 0);
}

void Simulator::SendAs(PeerId from, PeerId to, SharedMessage message, bool from_online) {
  const std::span<const uint8_t> bytes = message.bytes;
  MURMUR_CHECK(to.value < nodes_.size());
  if (!from_online) {
    ++stats_.msgs_offline;
    return;
  }
  ++stats_.msgs_sent;
  stats_.bytes_sent += bytes.size();
  PeerTraffic& sender = stats_.peers[from.value];
  ++sender.msgs_sent;
  sender.bytes_sent += bytes.size();
  stats_.peers[to.value].bytes_addressed += bytes.size();
  CountPeerBytes(from);
  // Per-link FIFO: transmission starts once earlier messages have left.
  SimTime& free_at = link_free_[(uint64_t{from.value} << 32) | to.value];
  const SimTime depart = std::max(stats_.now, free_at);
  const double bits = 8.0 * static_cast<double>(bytes.size());
  const Duration transmit =
      Duration::Seconds(bits / (config_.link.bandwidth_mbps * 1e6));
  free_at = depart + transmit;
  if (config_.link.loss > 0 && loss_rng_[from.value].Uniform() < config_.link.loss) {
    ++stats_.msgs_lost;
    return;
  }
  Push(Event{.time = free_at + Duration::Seconds(config_.link.latency_s),
             .kind = EventKind::kMessage,
             .peer = to,
             .from = from,
             .message = std::move(message)});
}

void Simulator::CountPeerBytes(PeerId peer) {
  const PeerTraffic& t = stats_.peers[peer.value];
  stats_.max_peer_bytes = std::max(stats_.max_peer_bytes, t.bytes_sent + t.bytes_received);
}

void Simulator::CountReceived(PeerId peer, uint64_t bytes) {
  stats_.bytes_received += bytes;
  ++stats_.peers[peer.value].msgs_received;
  stats_.peers[peer.value].bytes_received += bytes;
  CountPeerBytes(peer);
}

void Simulator::CountBadPeer(PeerId self, PeerId peer, const Status& why) {
  ++stats_.bad_peer_reports;
  if (stats_.bad_peer_reports <= 10) {
    Logf(LogLevel::kWarning, "peer %u rejected a message from peer %u: %s", self.value,
         peer.value, why.ToString().c_str());
  }
}

TimerId Simulator::StartTimer(PeerId peer, Duration after) {
  // Per peer, so a handler in a parallel window knows its id at once.
  uint32_t& started = timers_started_[peer.value];
  MURMUR_CHECK(started < ~uint32_t{0});
  const TimerId id((uint64_t{peer.value} << 32) | ++started);
  const SimTime now = hosts_[peer.value]->now();
  Schedule(peer, Event{.time = now + std::max(after, Duration::Nanos(0)),
                       .kind = EventKind::kTimer,
                       .peer = peer,
                       .id = id.value});
  return id;
}

void Simulator::RunCompute(PeerId peer, ComputeTask task) {
  // One task in flight per peer (ComputeTask contract).
  MURMUR_CHECK(!compute_[peer.value].work);
  const double flops_per_s = config_.device.gflops * 1e9 * speed_[peer.value];
  const Duration duration =
      std::max(Duration::Seconds(task.flops / flops_per_s), Duration::Nanos(1));
  const uint64_t tag = task.tag;
  compute_[peer.value] = std::move(task);
  compute_ran_[peer.value] = false;
  Event done{.time = hosts_[peer.value]->now() + duration,
             .kind = EventKind::kComputeDone,
             .peer = peer,
             .id = tag};
  if (hosts_[peer.value]->log() != nullptr) {
    // The commit queues the task (or, due inside the window, the window's
    // thread runs it when its result is due) and counts it.
    Op& op = hosts_[peer.value]->Log(Op::Kind::kCompute);
    op.flag = done.time < window_->end;
    if (!op.flag) {
      op.event = std::move(done);
      return;
    }
    hosts_[peer.value]->log()->ops.pop_back();
    Schedule(peer, std::move(done));
    hosts_[peer.value]->Log(Op::Kind::kCompute).flag = true;
    return;
  }
  compute_waiting_.push_back(peer);
  ++stats_.compute_tasks;
  Push(std::move(done));
}

void Simulator::RunPendingCompute() {
  // Every waiting task only touches its own peer's state, so they can run
  // together now; their results are observed in event order later.
  std::vector<PeerId> batch;
  batch.swap(compute_waiting_);
  ++stats_.compute_batches;
  pool_.ParallelFor(batch.size(), [&](size_t i) {
    compute_[batch[i].value].work();
  });
  for (PeerId peer : batch) compute_ran_[peer.value] = true;
}

void Simulator::Dispatch(Event& event) {
  const uint32_t p = event.peer.value;
  PeerHost& host = *hosts_[p];
  PeerLog* const log = host.log();  // non-null inside a parallel window
  if (crashed_[p] || (event.kind == EventKind::kMessage && !online_[p])) {
    if (event.kind != EventKind::kMessage) return;
    if (log != nullptr) {
      host.Log(Op::Kind::kOffline);
    } else {
      ++stats_.msgs_offline;
    }
    return;
  }
  switch (event.kind) {
    case EventKind::kStart:
      nodes_[p]->OnStart(host);
      break;
    case EventKind::kMessage:
      if (log != nullptr) {
        host.Log(Op::Kind::kReceived).index = static_cast<int64_t>(event.message.bytes.size());
      } else {
        CountReceived(event.peer, event.message.bytes.size());
      }
      nodes_[p]->OnSharedMessage(host, event.from, event.message);
      break;
    case EventKind::kTimer:
      nodes_[p]->OnTimer(host, TimerId(event.id));
      break;
    case EventKind::kComputeDone:
      if (!compute_ran_[p]) {
        if (log != nullptr) {
          // Requested inside this window: only this peer's state is involved.
          compute_[p].work();
          compute_ran_[p] = true;
        } else {
          RunPendingCompute();
        }
      }
      compute_[p] = ComputeTask{};
      nodes_[p]->OnComputeDone(host, event.id);
      break;
    case EventKind::kCrash:
      crashed_[p] = true;
      online_[p] = false;
      if (log != nullptr) {
        host.Log(Op::Kind::kCrashed);
      } else {
        ++stats_.crashed_peers;
      }
      break;
    case EventKind::kChurn: {
      online_[p] = !online_[p];
      const double mean = online_[p] ? config_.churn.mean_online_s
                                     : config_.churn.mean_offline_s;
      Schedule(event.peer,
               Event{.time = event.time + Duration::Seconds(churn_rng_[p].Exponential(mean)),
                     .kind = EventKind::kChurn,
                     .peer = event.peer});
      break;
    }
  }
}

void Simulator::StartNodes() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const PeerId peer(static_cast<uint32_t>(i));
    Push(Event{.time = SimTime{0}, .kind = EventKind::kStart, .peer = peer});
    if (config_.churn.mean_online_s > 0) {
      Push(Event{.time = SimTime{0} + Duration::Seconds(churn_rng_[i].Exponential(
                                          config_.churn.mean_online_s)),
                 .kind = EventKind::kChurn,
                 .peer = peer});
    }
  }
  if (config_.crash.fraction > 0) {
    std::vector<PeerId> order;
    for (size_t i = 0; i < nodes_.size(); ++i) order.push_back(PeerOf(i));
    Rng crash_rng(seed_, PeerId(0), RngPurpose::kChurn, uint64_t{1} << 62);
    crash_rng.Shuffle(std::span<PeerId>(order));
    const auto count = static_cast<size_t>(
        std::llround(config_.crash.fraction * static_cast<double>(nodes_.size())));
    for (size_t i = 0; i < count; ++i) {
      Push(Event{.time = SimTime{0} + Duration::Seconds(config_.crash.at_s),
                 .kind = EventKind::kCrash,
                 .peer = order[i]});
    }
  }
}

void Simulator::Run(const std::function<bool()>& stop) {
  if (!restored_) StartNodes();
  const bool parallel = ParallelEventsUsable();
  const SimTime limit = SimTime{0} + Duration::Seconds(config_.max_time_s);
  while (live_events_ > 0 && !queue_.empty()) {
    if (parallel && queue_.top().time + Duration::Seconds(config_.link.latency_s) <= limit) {
      if (RunWindow(stop)) break;
      continue;
    }
    // priority_queue::top is const; the event is popped right after.
    Event event = std::move(const_cast<Event&>(queue_.top()));
    queue_.pop();
    if (event.kind != EventKind::kChurn && event.kind != EventKind::kCrash) --live_events_;
    if (event.time > limit) {
      stats_.hit_time_limit = true;
      break;
    }
    stats_.now = event.time;
    ++stats_.events;
    Dispatch(event);
    if (stop && stop()) break;
  }
}

}  // namespace murmur
