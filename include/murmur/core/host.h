// The Host seam (ARCHITECTURE.md): protocol code is a Node reacting to events
// that a Host delivers, and asks its Host to send, set timers and run compute.
// SimHost (sim/) and NetHost (runtime/) both implement Host, so the same node
// code runs in the simulator and over TCP. A node never reads the wall clock,
// never sleeps, never blocks and never uses a global random generator.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/rng.h"
#include "murmur/core/status.h"

namespace murmur {

class SnapshotReader;  // core/snapshot.h
class SnapshotWriter;

// Work a node runs off the event loop (local training). `work` may touch only
// state that the node leaves alone until OnComputeDone(tag) arrives; a node
// has at most one compute task in flight. `flops` is the work estimate the
// simulator turns into virtual duration through the peer's device speed.
struct ComputeTask {
  double flops = 0;
  std::function<void()> work;
  uint64_t tag = 0;
};

// An immutable message that several recipients may hold at once without
// copying it (a model sent to every neighbour): `bytes` stay valid while any
// copy of `owner` lives.
struct SharedMessage {
  std::shared_ptr<const void> owner;
  std::span<const uint8_t> bytes;
};

// Where a node reports what the experiment measures. Implementations copy
// what they keep; spans are only valid during the call.
class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  // The node's model as it stands at the end of `round` (evaluation point).
  virtual void ReportModel(Round round, std::span<const float> params) = 0;
  // Mean training loss of the node's local training for `round`.
  virtual void ReportTrainLoss(Round round, double loss) = 0;
  // Adds `delta` to the run-wide counter `name` (e.g. "dpsgd.timeouts"):
  // protocol events worth seeing in a run's summary.
  virtual void Count(std::string_view name, int64_t delta) = 0;
  // True when ReportModel does nothing for this node (e.g. it is not an
  // evaluated peer), so a host that defers the call (the simulator's
  // parallel windows) need not copy the model. Default: false.
  virtual bool IgnoresModels() const { return false; }
};

// Drops every report: for nodes whose reports nobody reads (benchmarks,
// transport tests).
class NullMetricsSink final : public MetricsSink {
 public:
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view, int64_t) override {}
};

// What a node may ask of the world. Only ever called from the node's own
// event handlers, on the host's event loop.
class Host {
 public:
  virtual ~Host() = default;
  virtual PeerId self() const = 0;
  // Virtual time in the simulator; monotonic time in the runtime.
  virtual SimTime now() const = 0;
  // Asynchronous and unreliable: never blocks; the message may be lost, and
  // is lost when either end is offline.
  virtual void Send(PeerId to, std::vector<uint8_t> message) = 0;
  // Send of the same bytes; a host that can (the simulator) hands every
  // recipient the one shared buffer instead of a copy each. Default: copies.
  virtual void SendShared(PeerId to, const SharedMessage& message) {
    Send(to, std::vector<uint8_t>(message.bytes.begin(), message.bytes.end()));
  }
  // OnTimer(id) fires once, `after` from now.
  virtual TimerId StartTimer(Duration after) = 0;
  virtual void RunCompute(ComputeTask task) = 0;
  // This peer's protocol stream, seeded by (run seed, peer, kProtocol).
  virtual Rng& rng() = 0;
  // Where this peer draws the randomness a privacy guarantee rests on: DP
  // noise, the adaptive clip bit's noise, RQM's subsets and rounding, a
  // server's client sampling under DP. Whoever can regenerate these draws
  // can undo the guarantee, so a real host keys this stream by a secret
  // from the operating system (NetHost: runtime/secret_rng.h); the
  // simulator returns rng() itself, so a simulated run stays replayable
  // from its seed (and is private only against someone without the seed).
  // Protocol code calls it for those draws and never asks which it got.
  virtual Rng& privacy_rng() = 0;
  virtual MetricsSink& metrics() = 0;
  // A peer sent bytes that failed to decode or broke the protocol: the
  // reason is counted and logged and, in the runtime, the connection dropped.
  virtual void ReportBadPeer(PeerId peer, const Status& why) = 0;
};

// How a runtime peer that persists its state (`murmur peer --persist-every`,
// docs/runtime.md, "Persisting and resuming peers") keeps and resumes this
// node's part of it. A node declares its mode itself (Node::persist_mode),
// so a protocol opts in in its own files; the peer saves its Learner
// (Learner::Save) in every mode but kNone.
enum class PersistMode {
  // Cannot persist (the default; a Byzantine peer, or state a snapshot
  // cannot hold): `--persist-every` is refused for the peer (exit 2).
  kNone,
  // By its round alone: saved at each persisted round's model report, the
  // node keeps nothing else worth saving (what it buffered for later rounds
  // is sent again). A resumed peer builds its node at the saved round
  // (PeerContext::start_round): it reports its model of that round, trains
  // the next and collects that round's models. Round-synchronous nodes
  // whose state between rounds is the learner's (D-PSGD, Epidemic Learning,
  // DFedSAM).
  kByRound,
  // By its snapshot: saved (Node::Save) at each persisted round's model
  // report, between that round's mix and the next round's training;
  // restored (Node::Restore) into the resumed peer's node, not started,
  // whose OnStart then goes on from the restored round. REQUIRES
  // CanSnapshot(). Nodes whose state between rounds is more than the
  // learner's (gossip's cycle and queue, a FedAvg server's global model,
  // SGP's push-sum weight and numerator).
  kBySnapshot,
  // By its learner alone, saved at each persisted round's training loss
  // report (a node that reports no models: a FedAvg client, after training
  // and before it sends its update); the resumed node starts afresh and
  // waits for its server's next round.
  kLearnerAtTrainLoss,
};

// One peer's protocol state machine. Handlers run one at a time.
class Node {
 public:
  virtual ~Node() = default;
  virtual void OnStart(Host& host) = 0;
  virtual void OnMessage(Host& host, PeerId from,
                         std::span<const uint8_t> message) = 0;
  // The simulator delivers messages this way: a node that keeps what it
  // received past the call (a model waiting for its round) may keep a copy
  // of `message.owner` instead of copying the bytes. Default: OnMessage.
  virtual void OnSharedMessage(Host& host, PeerId from, const SharedMessage& message) {
    OnMessage(host, from, message.bytes);
  }
  virtual void OnTimer(Host& host, TimerId timer) = 0;
  virtual void OnComputeDone(Host& host, uint64_t tag) = 0;
  // A failure detector declared `peer` down. Default: ignore.
  virtual void OnPeerDown(Host& /*host*/, PeerId /*peer*/) {}
  // A peer declared down (OnPeerDown) is reachable again: the runtime
  // authenticated a new connection with it (it restarted, or the link came
  // back). Default: ignore.
  virtual void OnPeerUp(Host& /*host*/, PeerId /*peer*/) {}
  // True when this node's handlers touch no mutable state that another
  // node's handlers also touch (a shared coalition, a shared module, a
  // callback into Python): immutable data and thread-safe const objects
  // (codecs, ModelCombiner) are fine, and so is the node's own Learner. A
  // host may then run different nodes' handlers at the same time (the
  // simulator's parallel windows); each node's still run one at a time, in
  // order, and see the same Host calls. Default: false.
  virtual bool IndependentOfOtherNodes() const { return false; }
  // Not OK once the node stopped for good before its run's end and will
  // neither train nor report again (an evicted DiLoCo peer that cannot
  // resync): the reason. A host that runs this node alone (`murmur peer`)
  // ends its run then, with that error. Default: OK.
  virtual Status Halted() const { return Status::Ok(); }

  // Snapshots (core/snapshot.h; `murmur run --resume`). A node that
  // implements them returns true from CanSnapshot (a node may say false for
  // an option it cannot save, e.g. a codec with hidden state). Save writes
  // the protocol state between events; Restore reads it into a node built
  // afresh from the same config and seed (not started), after which the
  // node continues as if it had never stopped. The node's Learner is saved
  // by whoever owns it, not by the node. Restore returns the reader's error
  // (kCorrupt) for bytes that do not fit. Timer ids and in-flight compute
  // stay valid: the simulator restores its timers and delivers the
  // OnComputeDone of a task that ran before the snapshot.
  virtual bool CanSnapshot() const { return false; }
  virtual void Save(SnapshotWriter& /*out*/) const {}
  virtual Status Restore(SnapshotReader& in);
  // How a runtime peer persists this node (PersistMode, above); kNone for
  // an option whose state cannot be kept. Default: kNone.
  virtual PersistMode persist_mode() const { return PersistMode::kNone; }
};

}  // namespace murmur
