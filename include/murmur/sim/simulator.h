// The deterministic discrete-event simulator (ARCHITECTURE.md, SimHost).
// Runs every peer's Node against one event queue in virtual time:
//  * links: latency + bytes / bandwidth, with per-directed-link queueing
//    (a message waits until the link has finished sending earlier ones),
//    and independent loss;
//  * compute: a task's virtual duration is its flops over the peer's device
//    speed (log-normal heterogeneity), independent of wall time;
//  * churn: each peer alternates online and offline periods with
//    exponentially distributed lengths; an offline peer keeps computing but
//    its messages, in and out, are lost.
// Compute tasks are executed lazily in batches on a thread pool (a task is
// independent of everything but its own peer's state, by the ComputeTask
// contract) and their results are delivered in (time, sequence) order, so a
// run is bit-for-bit reproducible from its seed whatever the thread count.
// With EnableParallelEvents, the events themselves are handled in parallel
// too: conservative parallel discrete-event simulation with the link latency
// as lookahead (as in ROSS or OMNeT++'s parallel mode). Every event in
// [t, t + latency) belongs to its own peer and cannot cause an event for
// another peer inside the window (a message takes at least the latency), so
// each peer's events of the window run in (time, sequence) order on one
// thread, different peers concurrently; their side effects (sends, events,
// metrics, counters) are logged per peer and committed afterwards in the
// (time, sequence) order the serial loop would have run them, which also
// numbers the new events as the serial loop does (event_window.cc). Timer
// ids are per peer so a handler learns its id before the commit.
// Messages are real serialized bytes, so byte counts are honest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/core/snapshot.h"
#include "murmur/core/thread_pool.h"

namespace murmur {

struct LinkConfig {
  double latency_s = 0.005;
  double bandwidth_mbps = 100;  // per directed link, megabits per second
  double loss = 0;              // probability a message is lost
};

struct DeviceConfig {
  double gflops = 10;        // mean compute speed of a peer
  double speed_sigma = 0;    // log-normal sigma of per-peer speed (0: equal)
};

struct ChurnConfig {
  double mean_online_s = 0;   // 0 disables churn
  double mean_offline_s = 5;
};

// Crash-stop failure of a seeded sample of round(fraction x n) peers at
// `at_s`: from then on a crashed peer receives no events at all (messages,
// timers, compute results) and sends nothing. Unlike churn it never returns.
struct CrashConfig {
  double fraction = 0;  // 0 disables
  double at_s = 0;
};

// Budgets that end a run normally (sim.budget_time_s, sim.budget_bytes).
// The Simulator does not read them: the experiment driver (sim_run.h)
// checks them after every event and ends the run after the row of the
// round in progress. 0: no budget.
struct BudgetConfig {
  double time_s = 0;    // virtual seconds
  uint64_t bytes = 0;   // SimStats::bytes_sent, all nodes together
};

struct SimConfig {
  LinkConfig link;
  DeviceConfig device;
  ChurnConfig churn;
  CrashConfig crash;
  // A safety limit: a run still going at this virtual time is cut short and
  // fails (hit_time_limit), unlike one that ends by its budget.
  double max_time_s = 1e9;
  BudgetConfig budget;
};

// One node's traffic over the run. Sent counts include messages the link
// lost or the receiver missed (offline); received counts only delivered
// ones. addressed counts what others sent to this node (lost ones
// included), so for a server it is the whole uplink.
struct PeerTraffic {
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t msgs_sent = 0;
  uint64_t msgs_received = 0;
  uint64_t bytes_addressed = 0;
};

struct SimStats {
  uint64_t bytes_sent = 0;       // bytes put on links (lost ones included)
  uint64_t msgs_sent = 0;
  uint64_t msgs_lost = 0;        // dropped by the loss model
  uint64_t msgs_offline = 0;     // dropped because an end was offline
  uint64_t bad_peer_reports = 0;
  uint64_t crashed_peers = 0;    // by CrashConfig
  uint64_t bytes_received = 0;   // bytes of messages delivered to a node
  uint64_t max_peer_bytes = 0;   // most bytes one peer sent plus received
  std::vector<PeerTraffic> peers;  // by node
  uint64_t compute_tasks = 0;
  uint64_t compute_batches = 0;  // parallel batches the tasks ran in
  uint64_t events = 0;
  // Lookahead windows handled in parallel (EnableParallelEvents); not in
  // snapshots, the only figure that depends on the thread count besides
  // compute_batches.
  uint64_t parallel_windows = 0;
  SimTime now;
  bool hit_time_limit = false;   // Run() stopped at max_time_s
};

// Owns the nodes. Not thread-safe: Run() drives everything from the calling
// thread, using `pool` for compute batches and (EnableParallelEvents) event
// windows. `pool` and every sink must outlive the simulator.
class Simulator {
 public:
  // nodes[i] runs as PeerId(i); sinks[i] receives its metrics.
  Simulator(const SimConfig& config, uint64_t seed,
            std::vector<std::unique_ptr<Node>> nodes,
            std::vector<MetricsSink*> sinks, ThreadPool& pool);
  ~Simulator();

  // Starts every node at time 0 and processes events until none are left
  // (churn aside), virtual time passes max_time_s, or `stop()` is true after
  // an event.
  void Run(const std::function<bool()>& stop);
  // Handles the events of a lookahead window in parallel on the pool (see
  // the top of this file) when the pool has several threads, the link
  // latency is positive and every node is IndependentOfOtherNodes; else
  // Run stays serial. Everything Run reports (stats, metrics, the event
  // where `stop` becomes true) is identical to the serial run, but when
  // `stop` ends the run inside a window, the nodes of that window may
  // already have handled events after the stopping one: use it only when
  // nothing reads the nodes or their learners after Run (no checkpoint,
  // export or snapshot), and do not Save or Run again after such a stop.
  void EnableParallelEvents() { parallel_requested_ = true; }

  const SimStats& stats() const { return stats_; }
  SimTime now() const { return stats_.now; }
  bool online(PeerId peer) const;
  double device_speed(PeerId peer) const;
  Node& node(PeerId peer);
  // Snapshots (core/snapshot.h, simulator_snapshot.cc): the clock, the event
  // queue with every pending message's bytes, the timer and sequence
  // counters, link queues, churn and crash state, the random streams, the
  // stats and every node's Save. Runs the compute tasks in flight first, so
  // their results are in their peers' state (saved by the learners' owner)
  // and their OnComputeDone events stay queued. Changes nothing the run
  // computes (a task touches only its own peer's state, ComputeTask), only
  // stats().compute_batches. REQUIRES: called between events (e.g. from
  // Run's `stop`), every node CanSnapshot().
  void Save(SnapshotWriter& out);
  // Runs the compute tasks in flight now (what Save does first); call it
  // before saving state those tasks write (the learners). Between events.
  void RunComputeInFlight() {
    if (!compute_waiting_.empty()) RunPendingCompute();
  }
  // Reads what Save wrote into a simulator built afresh from the same
  // config, seed and (unstarted) nodes; Run then continues the run instead
  // of starting it. kCorrupt for bytes that do not fit.
  Status Restore(SnapshotReader& in);

  // Hands the nodes back, e.g. to inspect their state after Run(). The
  // simulator must not run again afterwards.
  std::vector<std::unique_ptr<Node>> ReleaseNodes() { return std::move(nodes_); }

 private:
  class PeerHost;
  struct Window;  // event_window.cc
  struct Op;
  struct PeerLog;
  enum class EventKind : uint8_t { kStart, kMessage, kTimer, kComputeDone, kChurn, kCrash };
  struct Event {
    SimTime time;
    uint64_t seq;
    EventKind kind;
    PeerId peer;
    PeerId from;
    uint64_t id;  // timer id or compute tag
    SharedMessage message;  // kMessage: one buffer for all its recipients
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.seq > b.seq;
    }
  };

  void StartNodes();
  void Push(Event event);
  // Push, or in a window: the peer's own event (inside the window, handled
  // there) or a logged Push for the commit.
  void Schedule(PeerId peer, Event event);
  void Send(PeerId from, PeerId to, SharedMessage message);
  void SendAs(PeerId from, PeerId to, SharedMessage message, bool from_online);
  TimerId StartTimer(PeerId peer, Duration after);
  void RunCompute(PeerId peer, ComputeTask task);
  void RunPendingCompute();
  void Dispatch(Event& event);
  void CountReceived(PeerId peer, uint64_t bytes);
  void CountBadPeer(PeerId self, PeerId peer, const Status& why);
  void CountPeerBytes(PeerId peer);
  // event_window.cc
  bool ParallelEventsUsable() const;
  bool RunWindow(const std::function<bool()>& stop);
  void ProcessPeer(PeerLog& log);
  bool Commit(const std::function<bool()>& stop);
  void ApplyOp(PeerId peer, Op& op, PeerLog& log);
  void SaveEvent(SnapshotWriter& out, const Event& event) const;
  void RestoreEvent(SnapshotReader& in);
  void SaveStats(SnapshotWriter& out) const;
  void RestoreStats(SnapshotReader& in);

  const SimConfig config_;
  const uint64_t seed_;
  ThreadPool& pool_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<PeerHost>> hosts_;
  std::unordered_map<uint64_t, SimTime> link_free_;  // key: from << 32 | to
  std::vector<Rng> loss_rng_;
  std::vector<Rng> churn_rng_;
  std::vector<double> speed_;
  // Bytes, not vector<bool>: window threads write different peers' flags.
  std::vector<uint8_t> online_;
  std::vector<uint8_t> crashed_;
  std::vector<ComputeTask> compute_;   // per peer: the task in flight
  std::vector<uint8_t> compute_ran_;
  std::vector<PeerId> compute_waiting_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  uint64_t next_seq_ = 0;
  std::vector<uint32_t> timers_started_;  // per peer; its ids: peer << 32 | count
  uint64_t live_events_ = 0;  // queued events other than churn
  bool restored_ = false;     // Run continues a snapshot instead of starting
  SimStats stats_;
  bool parallel_requested_ = false;
  std::unique_ptr<Window> window_;
};

}  // namespace murmur
