// AllReduceJob: a Node that runs a fixed number of all-reduces over a
// CollectiveGroup, each retried over the survivors until it succeeds
// (retry.h). The simplest user of the collective layer, shared by the
// simulator test, the loopback runtime test and the benchmark: the same
// node runs unchanged in the simulator and over NetHost.
//
// Iteration k's input is what `fill(k, buffer)` writes; the result (or the
// final error) goes to `on_result`. Not thread-safe (a Node).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "murmur/collective/collective_group.h"

namespace murmur::collective {

struct AllReduceJobOptions {
  int iterations = 1;
  size_t length = 0;
  ReduceOp reduce = ReduceOp::kSum;
  int max_attempts = 8;
  // Writes iteration k's input into the buffer.
  std::function<void(int iteration, std::span<float> buffer)> fill;
  // Called once per iteration with its status, the buffer (the result when
  // OK) and the members that produced it.
  std::function<void(Host&, int iteration, const Status&, std::span<const float> result,
                     const std::vector<PeerId>& members)>
      on_result;
};

class AllReduceJob final : public Node {
 public:
  AllReduceJob(AllReduceJobOptions options, std::unique_ptr<CollectiveGroup> group);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override {}
  void OnPeerDown(Host& host, PeerId peer) override;

  int completed() const { return completed_; }
  bool finished() const { return completed_ >= options_.iterations; }
  CollectiveGroup& group() { return *group_; }

 private:
  void StartIteration(Host& host);

  AllReduceJobOptions options_;
  std::unique_ptr<CollectiveGroup> group_;
  std::vector<float> buffer_;
  int completed_ = 0;
};

}  // namespace murmur::collective
