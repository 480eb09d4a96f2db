// The simulator's parallel windows (simulator.h, EnableParallelEvents):
// conservative parallel discrete-event simulation with the link latency as
// lookahead, committed in the serial loop's order.
#include "sim/event_window.h"

#include <algorithm>
#include <queue>

#include "sim/peer_host.h"

namespace murmur {
namespace {

// Peers per pool task: enough to amortize the pool's per-task locking,
// few enough that the threads stay balanced.
constexpr size_t kPeersPerTask = 16;
// This many events at the earliest time make a window of that instant
// alone (see RunWindow).
constexpr size_t kInstantWindow = 64;

}  // namespace

bool Simulator::ParallelEventsUsable() const {
  if (!parallel_requested_ || pool_.threads() < 2) return false;
  // Without a positive lookahead a message can arrive inside its own window.
  if (!(config_.link.latency_s > 0) || Duration::Seconds(config_.link.latency_s).ns <= 0) {
    return false;
  }
  return std::all_of(nodes_.begin(), nodes_.end(),
                     [](const auto& node) { return node->IndependentOfOtherNodes(); });
}

// Handles every event before t + latency (t: the earliest queued), then
// commits. True when the run ends inside the window.
bool Simulator::RunWindow(const std::function<bool()>& stop) {
  if (!window_) {
    window_ = std::make_unique<Window>();
    window_->slot_of.assign(nodes_.size(), Window::kNone);
  }
  Window& w = *window_;
  // Many events at one instant (peers in lockstep): a window of that instant
  // only, as any part of a lookahead window is one. Its peers' later events
  // (a short compute) then come after every peer's events of the instant,
  // as in the serial loop, so the models received there are mixed and
  // released before the next ones are encoded, and peak memory stays the
  // serial run's. Otherwise the whole lookahead.
  const SimTime start = queue_.top().time;
  w.end = start + Duration::Seconds(config_.link.latency_s);
  w.used = 0;
  bool compute_due = false;
  size_t at_start = 0;
  while (!queue_.empty() && queue_.top().time < w.end) {
    if (queue_.top().time == start && ++at_start == kInstantWindow) {
      w.end = start + Duration::Nanos(1);
    }
    // priority_queue::top is const; the event is popped right after.
    Event event = std::move(const_cast<Event&>(queue_.top()));
    queue_.pop();
    const uint32_t p = event.peer.value;
    uint32_t& slot = w.slot_of[p];
    if (slot == Window::kNone) {
      slot = static_cast<uint32_t>(w.used++);
      if (slot == w.logs.size()) w.logs.emplace_back();
      w.logs[slot].peer = event.peer;
    }
    // A result due in this window whose task waits for a batch: run the
    // batch now, as the serial loop would at that event.
    if (event.kind == EventKind::kComputeDone && !compute_ran_[p] && !crashed_[p]) {
      compute_due = true;
    }
    // Popped in (time, sequence) order, so the vector is already a heap.
    w.logs[slot].heap.push_back(std::move(event));
  }
  if (compute_due) RunPendingCompute();
  ++stats_.parallel_windows;
  const size_t tasks = (w.used + kPeersPerTask - 1) / kPeersPerTask;
  pool_.ParallelFor(tasks, [&](size_t t) {
    const size_t end = std::min(w.used, (t + 1) * kPeersPerTask);
    for (size_t i = t * kPeersPerTask; i < end; ++i) ProcessPeer(w.logs[i]);
  });
  const bool stopped = Commit(stop);
  for (size_t i = 0; i < w.used; ++i) {
    PeerLog& log = w.logs[i];
    w.slot_of[log.peer.value] = Window::kNone;
    log.heap.clear();
    log.handled.clear();
    log.ops.clear();  // frees logged models and messages
    log.local_seq.clear();
    log.next_handled = 0;
    log.next_op = 0;
  }
  return stopped;
}

// On a pool thread: the peer's events of the window in (time, sequence)
// order, its own new events inside the window included.
void Simulator::ProcessPeer(PeerLog& log) {
  PeerHost& host = *hosts_[log.peer.value];
  host.EnterWindow(&log);
  while (!log.heap.empty()) {
    std::pop_heap(log.heap.begin(), log.heap.end(), Later());
    Event event = std::move(log.heap.back());
    log.heap.pop_back();
    host.set_now(event.time);
    const SimTime time = event.time;
    const uint64_t seq = event.seq;
    const bool live = event.kind != EventKind::kChurn && event.kind != EventKind::kCrash;
    Dispatch(event);
    log.handled.push_back(PeerLog::Handled{
        .time = time, .seq = seq, .live = live, .ops_end = static_cast<uint32_t>(log.ops.size())});
  }
  host.EnterWindow(nullptr);
}

// Replays the handled events in the serial loop's order: a merge of the
// peers' lists by (time, sequence), where an event made inside the window
// gets its sequence when the event that made it is committed (always
// earlier in the same peer's list). Mirrors Run's loop: the same checks,
// the same counters, `stop` after every event.
bool Simulator::Commit(const std::function<bool()>& stop) {
  Window& w = *window_;
  struct Head {
    SimTime time;
    uint64_t seq;
    uint32_t slot;
  };
  auto later = [](const Head& a, const Head& b) {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  };
  std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later);
  auto push_next = [&](uint32_t slot) {
    PeerLog& log = w.logs[slot];
    if (log.next_handled == log.handled.size()) return;
    const PeerLog::Handled& h = log.handled[log.next_handled];
    const uint64_t seq =
        h.seq < Window::kLocalSeq ? h.seq : log.local_seq[h.seq - Window::kLocalSeq];
    heads.push(Head{.time = h.time, .seq = seq, .slot = slot});
  };
  for (size_t i = 0; i < w.used; ++i) push_next(static_cast<uint32_t>(i));
  while (!heads.empty()) {
    const uint32_t slot = heads.top().slot;
    heads.pop();
    PeerLog& log = w.logs[slot];
    const PeerLog::Handled& h = log.handled[log.next_handled++];
    if (live_events_ == 0) return true;  // the serial loop ends before this event
    if (h.live) --live_events_;
    stats_.now = h.time;
    ++stats_.events;
    for (; log.next_op < h.ops_end; ++log.next_op) ApplyOp(log.peer, log.ops[log.next_op], log);
    if (stop && stop()) return true;
    push_next(slot);
  }
  return false;
}

void Simulator::ApplyOp(PeerId peer, Op& op, PeerLog& log) {
  MetricsSink& sink = hosts_[peer.value]->sink();
  switch (op.kind) {
    case Op::Kind::kSend:
      SendAs(peer, op.event.peer, std::move(op.event.message), op.flag);
      break;
    case Op::Kind::kPush:
      Push(std::move(op.event));
      break;
    case Op::Kind::kLocal:
      log.local_seq[static_cast<size_t>(op.index)] = next_seq_++;
      if (op.flag) ++live_events_;
      break;
    case Op::Kind::kCompute:
      ++stats_.compute_tasks;
      if (!op.flag) {
        compute_waiting_.push_back(peer);
        Push(std::move(op.event));
      }
      break;
    case Op::Kind::kModel:
      sink.ReportModel(Round(static_cast<uint32_t>(op.index)), op.params);
      op.params = {};
      break;
    case Op::Kind::kLoss:
      sink.ReportTrainLoss(Round(static_cast<uint32_t>(op.index)), op.value);
      break;
    case Op::Kind::kCount:
      sink.Count(op.text, op.index);
      break;
    case Op::Kind::kBadPeer:
      CountBadPeer(peer, op.event.from, op.status);
      break;
    case Op::Kind::kReceived:
      CountReceived(peer, static_cast<uint64_t>(op.index));
      break;
    case Op::Kind::kOffline:
      ++stats_.msgs_offline;
      break;
    case Op::Kind::kCrashed:
      ++stats_.crashed_peers;
      break;
  }
}

}  // namespace murmur
