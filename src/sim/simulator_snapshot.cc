// Simulator::Save and Restore (simulator.h): the whole simulated world
// between two events, so that a resumed run processes the same events in
// the same order as one that never stopped.
#include <algorithm>
#include <memory>

#include "murmur/sim/simulator.h"
#include "sim/peer_host.h"

namespace murmur {
namespace {

// Section markers ("SIM0", ...), checked on restore.
constexpr uint32_t kSimSection = 0x314d4953;  // "SIM1": per-peer timer ids
constexpr uint32_t kQueueSection = 0x31554551;
constexpr uint32_t kNodeSection = 0x45444f4e;
constexpr uint64_t kMaxEvents = uint64_t{1} << 32;

void SaveTraffic(SnapshotWriter& out, const PeerTraffic& t) {
  out.U64(t.bytes_sent);
  out.U64(t.bytes_received);
  out.U64(t.msgs_sent);
  out.U64(t.msgs_received);
  out.U64(t.bytes_addressed);
}

void RestoreTraffic(SnapshotReader& in, PeerTraffic& t) {
  t.bytes_sent = in.U64("peer.bytes_sent");
  t.bytes_received = in.U64("peer.bytes_received");
  t.msgs_sent = in.U64("peer.msgs_sent");
  t.msgs_received = in.U64("peer.msgs_received");
  t.bytes_addressed = in.U64("peer.bytes_addressed");
}

}  // namespace

void Simulator::SaveStats(SnapshotWriter& out) const {
  const SimStats& s = stats_;
  for (uint64_t v : {s.bytes_sent, s.msgs_sent, s.msgs_lost, s.msgs_offline, s.bad_peer_reports,
                     s.crashed_peers, s.bytes_received, s.max_peer_bytes, s.compute_tasks,
                     s.compute_batches, s.events}) {
    out.U64(v);
  }
  out.I64(s.now.ns);
  out.Bool(s.hit_time_limit);
  for (const PeerTraffic& t : s.peers) SaveTraffic(out, t);
}

void Simulator::RestoreStats(SnapshotReader& in) {
  SimStats& s = stats_;
  for (uint64_t* v : {&s.bytes_sent, &s.msgs_sent, &s.msgs_lost, &s.msgs_offline,
                      &s.bad_peer_reports, &s.crashed_peers, &s.bytes_received,
                      &s.max_peer_bytes, &s.compute_tasks, &s.compute_batches, &s.events}) {
    *v = in.U64("stats");
  }
  s.now = SimTime{in.I64("stats.now")};
  s.hit_time_limit = in.Bool("stats.hit_time_limit");
  for (PeerTraffic& t : s.peers) RestoreTraffic(in, t);
}

void Simulator::SaveEvent(SnapshotWriter& out, const Event& e) const {
  out.I64(e.time.ns);
  out.U64(e.seq);
  out.U8(static_cast<uint8_t>(e.kind));
  out.U32(e.peer.value);
  out.U32(e.from.value);
  out.U64(e.id);
  if (e.kind == EventKind::kMessage) out.Bytes(e.message.bytes);
}

void Simulator::RestoreEvent(SnapshotReader& in) {
  Event e;
  e.time = SimTime{in.I64("event.time")};
  e.seq = in.U64("event.seq");
  const uint8_t kind = in.U8("event.kind");
  e.peer = PeerId(in.U32("event.peer"));
  e.from = PeerId(in.U32("event.from"));
  e.id = in.U64("event.id");
  if (!in.ok()) return;
  if (kind > static_cast<uint8_t>(EventKind::kCrash) || e.peer.value >= nodes_.size() ||
      e.from.value >= nodes_.size() || e.seq >= next_seq_ || e.time < stats_.now ||
      e.time.ns > Duration::kMaxNanos) {
    in.Fail(Status::Corrupt("snapshot: event (kind ", int{kind}, ", peer ", e.peer.value,
                            ", seq ", e.seq, ") does not fit this run of ", nodes_.size(),
                            " nodes"));
    return;
  }
  e.kind = static_cast<EventKind>(kind);
  if (e.kind == EventKind::kMessage) {
    auto owner = std::make_shared<const std::vector<uint8_t>>(in.Bytes("event.message"));
    e.message = SharedMessage{.owner = owner, .bytes = std::span<const uint8_t>(*owner)};
  }
  if (e.kind != EventKind::kChurn && e.kind != EventKind::kCrash) ++live_events_;
  queue_.push(std::move(e));
}

void Simulator::Save(SnapshotWriter& out) {
  for (const auto& node : nodes_) MURMUR_CHECK(node->CanSnapshot());
  RunComputeInFlight();
  out.Section(kSimSection);
  out.U64(nodes_.size());
  SaveStats(out);
  out.U64(next_seq_);
  std::vector<std::pair<uint64_t, SimTime>> links(link_free_.begin(), link_free_.end());
  std::sort(links.begin(), links.end());
  out.U64(links.size());
  for (const auto& [key, at] : links) {
    out.U64(key);
    out.I64(at.ns);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    out.Random(loss_rng_[i]);
    out.Random(churn_rng_[i]);
    out.Random(hosts_[i]->protocol_rng());
    out.Bool(online_[i] != 0);
    out.Bool(crashed_[i] != 0);
    out.U64(timers_started_[i]);
  }
  out.Section(kQueueSection);
  auto queue = queue_;  // copies share the messages' buffers
  out.U64(queue.size());
  for (; !queue.empty(); queue.pop()) SaveEvent(out, queue.top());
  for (const auto& node : nodes_) {
    out.Section(kNodeSection);
    node->Save(out);
  }
}

Status Simulator::Restore(SnapshotReader& in) {
  MURMUR_CHECK(!restored_ && queue_.empty());
  in.Section(kSimSection, "simulator");
  const uint64_t n = in.U64("nodes");
  if (in.ok() && n != nodes_.size()) {
    return Status::Corrupt("snapshot holds ", n, " nodes, this run has ", nodes_.size());
  }
  RestoreStats(in);
  next_seq_ = in.U64("next_seq");
  const uint64_t links = in.Count("links", 16);
  for (uint64_t i = 0; i < links && in.ok(); ++i) {
    const uint64_t key = in.U64("link.key");
    const SimTime at{in.I64("link.free_at")};
    if (at.ns < 0 || at.ns > Duration::kMaxNanos) in.Fail(Status::Corrupt("snapshot: link time"));
    link_free_[key] = at;
  }
  // Times stay within Duration's range, so later sums cannot overflow.
  if (in.ok() && (stats_.now.ns < 0 || stats_.now.ns > Duration::kMaxNanos)) {
    return Status::Corrupt("snapshot: virtual time ", stats_.now.ns, " ns out of range");
  }
  for (size_t i = 0; i < nodes_.size() && in.ok(); ++i) {
    in.Random("loss_rng", loss_rng_[i]);
    in.Random("churn_rng", churn_rng_[i]);
    in.Random("protocol_rng", hosts_[i]->protocol_rng());
    online_[i] = in.Bool("online");
    crashed_[i] = in.Bool("crashed");
    const uint64_t timers = in.U64("timers_started");
    if (timers > ~uint32_t{0}) in.Fail(Status::Corrupt("snapshot: timer count"));
    timers_started_[i] = static_cast<uint32_t>(timers);
  }
  in.Section(kQueueSection, "event queue");
  const uint64_t events = in.CountAtMost("events", kMaxEvents, 37);
  for (uint64_t i = 0; i < events && in.ok(); ++i) RestoreEvent(in);
  if (in.ok()) {
    // Sequence numbers are unique (Push numbers every event): they order
    // events of the same time, so a duplicate would make that order, and
    // the run, depend on the heap's layout.
    std::vector<uint64_t> seqs;
    seqs.reserve(queue_.size());
    for (auto queue = queue_; !queue.empty(); queue.pop()) seqs.push_back(queue.top().seq);
    std::sort(seqs.begin(), seqs.end());
    if (std::adjacent_find(seqs.begin(), seqs.end()) != seqs.end()) {
      in.Fail(Status::Corrupt("snapshot: two events share a sequence number"));
    }
  }
  for (size_t i = 0; i < nodes_.size() && in.ok(); ++i) {
    in.Section(kNodeSection, "node");
    if (!in.ok()) break;
    MURMUR_RETURN_IF_ERROR(nodes_[i]->Restore(in));
  }
  MURMUR_RETURN_IF_ERROR(in.status());
  // Save ran every task in flight: their results are in the restored state.
  compute_ran_.assign(nodes_.size(), true);
  restored_ = true;
  return Status::Ok();
}

}  // namespace murmur
