#include "murmur/sim/simulator.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/log.h"
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

void Simulator::Send(PeerId from, PeerId to, SharedMessage message) {
  const std::span<const uint8_t> bytes = message.bytes;
  MURMUR_CHECK(to.value < nodes_.size());
  if (!online_[from.value]) {
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

TimerId Simulator::StartTimer(PeerId peer, Duration after) {
  const TimerId id(next_timer_++);
  Push(Event{.time = stats_.now + std::max(after, Duration::Nanos(0)),
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
  compute_waiting_.push_back(peer);
  ++stats_.compute_tasks;
  Push(Event{.time = stats_.now + duration,
             .kind = EventKind::kComputeDone,
             .peer = peer,
             .id = tag});
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
  if (crashed_[p]) {
    if (event.kind == EventKind::kMessage) ++stats_.msgs_offline;
    return;
  }
  Host& host = *hosts_[p];
  switch (event.kind) {
    case EventKind::kStart:
      nodes_[p]->OnStart(host);
      break;
    case EventKind::kMessage:
      if (!online_[p]) {
        ++stats_.msgs_offline;
        break;
      }
      stats_.bytes_received += event.message.bytes.size();
      ++stats_.peers[p].msgs_received;
      stats_.peers[p].bytes_received += event.message.bytes.size();
      CountPeerBytes(event.peer);
      nodes_[p]->OnSharedMessage(host, event.from, event.message);
      break;
    case EventKind::kTimer:
      nodes_[p]->OnTimer(host, TimerId(event.id));
      break;
    case EventKind::kComputeDone:
      if (!compute_ran_[p]) RunPendingCompute();
      compute_[p] = ComputeTask{};
      nodes_[p]->OnComputeDone(host, event.id);
      break;
    case EventKind::kCrash:
      crashed_[p] = true;
      online_[p] = false;
      ++stats_.crashed_peers;
      break;
    case EventKind::kChurn: {
      online_[p] = !online_[p];
      const double mean = online_[p] ? config_.churn.mean_online_s
                                     : config_.churn.mean_offline_s;
      Push(Event{.time = stats_.now + Duration::Seconds(churn_rng_[p].Exponential(mean)),
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
  const SimTime limit = SimTime{0} + Duration::Seconds(config_.max_time_s);
  while (live_events_ > 0 && !queue_.empty()) {
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
