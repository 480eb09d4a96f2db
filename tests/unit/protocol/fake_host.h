// A scripted Host for driving one node by hand in protocol unit tests:
// records what the node asks for and lets the test deliver events.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "murmur/core/host.h"

namespace murmur::testing {

class FakeHost final : public Host, public MetricsSink {
 public:
  struct Sent {
    PeerId to;
    std::vector<uint8_t> bytes;
  };

  explicit FakeHost(PeerId self) : self_(self), rng_(1, self, RngPurpose::kProtocol) {}

  PeerId self() const override { return self_; }
  SimTime now() const override { return now_; }
  void Send(PeerId to, std::vector<uint8_t> message) override {
    sent.push_back({to, std::move(message)});
  }
  TimerId StartTimer(Duration after) override {
    timers.push_back(TimerId(next_timer_));
    return TimerId(next_timer_++);
  }
  void RunCompute(ComputeTask task) override { compute.push_back(std::move(task)); }
  Rng& rng() override { return rng_; }
  MetricsSink& metrics() override { return *this; }
  void ReportBadPeer(PeerId peer, const Status& why) override { bad_peers.push_back(peer); }

  void ReportModel(Round round, std::span<const float> params) override {
    models[round.value].assign(params.begin(), params.end());
  }
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view name, int64_t delta) override {
    counters[std::string(name)] += delta;
  }

  // Moves the host's clock forward.
  void Advance(Duration d) { now_ = now_ + d; }

  // Runs the oldest pending compute task and tells the node it finished.
  void FinishCompute(Node& node) {
    ComputeTask task = std::move(compute.front());
    compute.erase(compute.begin());
    task.work();
    node.OnComputeDone(*this, task.tag);
  }

  std::vector<Sent> sent;
  std::vector<TimerId> timers;
  std::vector<ComputeTask> compute;
  std::vector<PeerId> bad_peers;
  std::map<uint32_t, std::vector<float>> models;
  std::map<std::string, int64_t> counters;

 private:
  PeerId self_;
  SimTime now_;
  Rng rng_;
  uint64_t next_timer_ = 1;
};

}  // namespace murmur::testing
