// Gossip learning (Ormandi, Hegedus, Jelasity, 2013, "Gossip learning with
// linear models on fully distributed data"): fully asynchronous. Every
// `period` (first wake-up at a random offset) a peer pushes its current model
// to one neighbour chosen uniformly at random; a peer that receives a model
// merges it into its own by averaging (MergeAverage) and then takes
// `local_steps` SGD steps on its local data ("merge-update").
//
// A "round" is one gossip cycle: a peer reports its model after each of its
// `rounds` wake-ups and stops pushing after the last. Models that arrive
// while the peer is training wait in a bounded queue (oldest dropped).
// Messages are fire-and-forget, so loss and offline peers only slow mixing.
// Tolerates crash faults, not Byzantine ones.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"

namespace murmur {

struct GossipOptions {
  int64_t rounds = 40;
  int64_t local_steps = 10;
  Duration period = Duration::Seconds(1);
  size_t max_queued = 8;
};

// One peer. `learner` must outlive the node.
class GossipNode final : public Node {
 public:
  // REQUIRES: neighbours non-empty and sorted.
  GossipNode(Learner& learner, const GossipOptions& options,
             std::vector<PeerId> neighbours);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;

  int64_t cycles() const { return cycle_; }
  int64_t dropped_models() const { return dropped_; }

 private:
  void Wake(Host& host);
  void MergeAndTrain(Host& host, const std::vector<float>& model);

  Learner& learner_;
  const GossipOptions options_;
  const std::vector<PeerId> neighbours_;

  int64_t cycle_ = 0;
  bool training_ = false;
  // A wake-up that came while training; handled when training ends, since
  // the parameters belong to the compute task until then.
  bool wake_pending_ = false;
  double last_loss_ = 0;
  int64_t dropped_ = 0;
  std::deque<std::vector<float>> queue_;
};

}  // namespace murmur
