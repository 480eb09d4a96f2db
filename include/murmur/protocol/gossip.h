// Gossip learning (Ormandi, Hegedus, Jelasity, 2013, "Gossip learning with
// linear models on fully distributed data"), in the form of Hegedus, Danner,
// Jelasity, 2019, "Gossip learning as a decentralized alternative to
// federated learning": fully asynchronous. Every `period` (first wake-up at a
// random offset) a peer pushes its current model to one neighbour chosen
// uniformly at random; a peer that receives a model averages it with its own
// current model and then takes `local_steps` SGD steps on its local data
// (merge, then update). Ormandi et al.'s original merges with the last
// received model and updates on one example; the 2019 form is the one that
// is compared against federated learning.
//
// A "round" is one gossip cycle: a peer pushes and reports its model at each
// of its `rounds` wake-ups and stops after the last. Wake-ups that fall due
// while the peer trains (its parameters belong to the compute task) are
// served, one push and one report each, when training ends. Models that
// arrive while the peer is training wait in a bounded queue (oldest
// dropped). Models from peers that are not neighbours are rejected.
// Messages are fire-and-forget, so loss and offline peers only slow mixing.
// Tolerates crash faults, not Byzantine ones, with the default pairwise
// average. With a robust rule (the run's [robust] table,
// protocol/model_combiner.h) a peer keeps a window of the latest model from
// each of the `window` neighbours it heard from most recently (a neighbour
// that pushes often cannot fill the window) and, on each received model,
// replaces its own with the rule applied to its own model and the window,
// its own model being the reference; while the window is too small for the
// rule's precondition the peer keeps its model (counted as
// "robust.failed_aggregations") and only trains.
//
// The merge is a plain average by default, or variance-corrected averaging
// (MergeRule::kVarianceCorrected, see model_merge.h).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/dp_release.h"
#include "murmur/protocol/model_combiner.h"
#include "murmur/protocol/model_merge.h"
#include "murmur/protocol/topology.h"
#include <string>

namespace murmur {

// Built by MakeProtocol from ProtocolConfig, which holds the defaults.
struct GossipOptions {
  int64_t rounds = 0;
  int64_t local_steps = 0;
  Duration period;
  size_t max_queued = 8;
  MergeRule merge = MergeRule::kAverage;
  std::vector<ParamTensor> tensors;  // the model's, for kVarianceCorrected
  size_t window = 4;  // robust rules: neighbours' models kept
  // [privacy] kLocal: every push is a DpRelease (dp_release.h) of the
  // model; kNone: the model as it is.
  privacy::DpConfig dp;
};

// One peer. `learner` must outlive the node.
// Starts a gossip peer's first timer at a random phase in (0, period],
// drawn from the peer's own generator, so peers do not all wake in
// lockstep. Every gossip variant (plain, compressed) starts this way.
void StartGossipClock(Host& host, Duration period);

class GossipNode final : public Node {
 public:
  // REQUIRES: neighbours non-empty and sorted.
  // `combiner` null or plain average: the pairwise average.
  GossipNode(Learner& learner, const GossipOptions& options,
             std::vector<PeerId> neighbours,
             std::shared_ptr<const ModelCombiner> combiner = nullptr);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Own state only (Node::IndependentOfOtherNodes); not with a robust rule.
  bool IndependentOfOtherNodes() const override;
  // Snapshots: the cycle, the queue and, with a robust rule, the window of
  // neighbours' models; not with [privacy] local noise or a Python rule
  // (ModelCombiner::CanSnapshot).
  bool CanSnapshot() const override {
    return (combiner_ == nullptr || combiner_->CanSnapshot()) && !options_.dp.enabled();
  }
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;
  // A runtime peer persists its snapshot; restored, its OnStart starts the
  // gossip clock from the saved cycle.
  PersistMode persist_mode() const override { return PersistMode::kBySnapshot; }

  int64_t cycles() const { return cycle_; }
  int64_t dropped_models() const { return dropped_; }

 private:
  // Pushes and reports the model once for every wake-up not yet served.
  void ServeWakeUps(Host& host);
  void MergeAndTrain(Host& host, PeerId from, std::vector<float> model);
  // One (sender, model) pair as Save wrote it; fails `in` unless the sender
  // is a neighbour and the model has this peer's size.
  std::pair<PeerId, std::vector<float>> RestoreNeighbourModel(SnapshotReader& in,
                                                              const char* field) const;

  Learner& learner_;
  const GossipOptions options_;
  const std::vector<PeerId> neighbours_;
  const std::shared_ptr<const ModelCombiner> combiner_;

  int64_t cycle_ = 0;
  bool training_ = false;
  int64_t served_cycles_ = 0;  // wake-ups whose push and report are done
  double last_loss_ = 0;
  int64_t dropped_ = 0;
  std::deque<std::pair<PeerId, std::vector<float>>> queue_;
  // Robust rules: the latest model of recent senders, oldest first.
  std::deque<std::pair<PeerId, std::vector<float>>> window_;
  std::optional<DpRelease> dp_;  // options_.dp enabled; from OnStart
};

// protocol.kind = "gossip": its keys (docs/config.md), read by its spec
// (gossip_spec.cc). A codec other than "fp32" gossips CHOCO-style
// (choco_gossip.h) with step `choco_gamma`.
struct GossipConfig {
  TopologyConfig topology;
  double period_s = 1.0;                // protocol.gossip_period_s
  MergeRule merge = MergeRule::kAverage;  // protocol.merge
  std::string codec = "fp32";           // compress.codec
  double choco_gamma = 0.5;             // protocol.choco_gamma (compressed only)
};

}  // namespace murmur
