// A Byzantine gossip-learning peer (attacks and knowledge:
// protocol/byzantine.h). It keeps the latest model received from each
// honest neighbour; on each received model it merges (pairwise average)
// and trains like an honest peer, so its own model stays plausible. At each
// of its `rounds` wake-ups it pushes one crafted model to an honest
// neighbour chosen at random, crafted from the honest models it holds (for
// equivocation: pushed away from their mean starting from that receiver's
// own latest model, so every receiver gets a different model). It sends
// nothing to, and ignores models from, other Byzantine peers, and reports
// no metrics.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/gossip.h"

namespace murmur {

class ByzantineGossipNode final : public Node {
 public:
  // `neighbours` sorted; `honest` their sorted non-Byzantine subset.
  // `learner` must outlive the node. REQUIRES: config.attack != kNone.
  ByzantineGossipNode(Learner& learner, const GossipOptions& options,
                      std::vector<PeerId> neighbours, std::vector<PeerId> honest,
                      const ByzantineConfig& config);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Own state only (Node::IndependentOfOtherNodes); attacks that need no
  // coalition.
  bool IndependentOfOtherNodes() const override { return true; }
  // Snapshots (every attack): the cycle, whether it trains, the models
  // before and after its last training and the honest neighbours' latest
  // models; its random draws come from the host's saved stream.
  bool CanSnapshot() const override { return true; }
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;

 private:
  void Push(Host& host);

  Learner& learner_;
  const GossipOptions options_;
  const std::vector<PeerId> neighbours_;
  const std::vector<PeerId> honest_;
  const ByzantineConfig config_;

  int64_t cycle_ = 0;
  bool training_ = false;
  std::vector<float> base_;     // model before its last training
  std::vector<float> trained_;  // ...and after
  double last_loss_ = 0;
  std::map<PeerId, std::vector<float>> latest_;  // by honest neighbour
};

}  // namespace murmur
