// `murmur peer --persist-every N` (NetRunOptions::persist_every;
// docs/runtime.md, "Persisting and resuming peers"): what RunNetPeer needs
// to check, load, save and cut back. Private to net_run.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "murmur/core/host.h"
#include "murmur/core/status.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/net_run.h"
#include "murmur/experiment/peer_state.h"
#include "murmur/experiment/run_config.h"
#include "murmur/learn/learner.h"

namespace murmur {

// What --persist-every needs before any data is loaded: a protocol whose
// peers can persist, --out, no DP-SGD accountant. kInvalidArgument naming
// what to change.
Status CheckPersistable(const RunConfig& config, const NetRunOptions& options);

// This peer's persisted state in options.out_dir, if any. Every reason to
// refuse one is kInvalidArgument (a user error, exit 2) but for an
// unreadable file: never silently ignored.
Result<std::optional<PeerState>> LoadPersisted(const RunConfig& config,
                                               const NetRunOptions& options, PeerId self);

// Puts a persisted learner state into `learner` (built from the same config).
Status RestoreLearner(std::span<const uint8_t> bytes, Learner& learner);

// When a peer persists: at its round's model report (a model holder), or,
// for a FedAvg client (which reports no models), at its round's training
// loss report, after training and before its update is sent.
enum class PersistPoint { kModelReport, kTrainLossReport };

// How a peer's node persists, as the node says (Node::persist_mode): by its
// round alone (kByRound: PeerContext::start_round; `node` null), by its
// snapshot (kBySnapshot: Node::Save/Restore; `node` is the node), or by its
// learner alone at its training loss reports (kLearnerAtTrainLoss: `node`
// null; restarted, a FedAvg client waits for the server's next round).
struct PersistedNode {
  Node* node = nullptr;
  PersistPoint point = PersistPoint::kModelReport;
};

// kInvalidArgument naming the protocol when this peer's node or learner
// cannot be persisted: a node whose persist_mode is kNone (a Byzantine
// peer, an option whose state is not saved), one that persists by snapshot
// but cannot take one (CanSnapshot), or a learner that cannot.
Result<PersistedNode> PersistedNodeOf(const RunConfig& config, PeerId self, Node& node,
                                      const Learner& learner);

// Puts a persisted node state into `node` (built from the same config, not
// started); kCorrupt for bytes that do not fit.
Status RestoreNode(std::span<const uint8_t> bytes, Node& node);

// Cuts `dir`'s metrics.jsonl and metrics.csv back to the lengths `state`
// recorded, so the rows the earlier life wrote after its save (which the
// resumed peer writes again) are there once. Checks both files before
// changing either: kInvalidArgument, with nothing changed, when a file is
// shorter than recorded or the recorded length does not end a row (the file
// was changed or lost rows after the save); kUnavailable when a file cannot
// be cut. Cutting again after an interruption is harmless.
Status CutMetricsToState(const std::string& dir, const PeerState& state);

// The sink's round hook (none without persist_every): at each round
// boundary that is a multiple of options.persist_every, and the last, after
// the state it resumed from (`start_round`), writes the learner's state,
// `node`'s when given (Node::Save) and the metrics files' lengths (synced to
// disk first, so a state never records rows a power loss took). The first
// failure goes to *status and stops further attempts. `config`, `options`,
// `learner`, `node`, `writer` and `status` must outlive the hook.
std::function<void(Round)> PersistHook(const RunConfig& config, const NetRunOptions& options,
                                       PeerId self, const Learner* learner, const Node* node,
                                       MetricsWriter* writer, int64_t start_round,
                                       Status* status);

}  // namespace murmur
