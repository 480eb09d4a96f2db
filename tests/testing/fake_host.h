// A scripted Host for driving one node by hand in unit tests: it records
// what the node asks for (sends, timers, compute tasks, bad-peer reports,
// metrics) and lets the test deliver events and move a manual clock.
//
// Randomness: rng() is the (seed 1, self, kProtocol) stream, the one a
// simulated run with seed 1 gives the same peer, so a test can replay it.
// privacy_rng() is that same stream, as in the simulator, until a test calls
// UseSeparatePrivacyStream (a runtime host's secret stream stands apart).
// Not thread-safe; one test drives it from one thread.
#pragma once

#include <cstdint>
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
  void Send(PeerId to, std::vector<uint8_t> message) override;
  // Timer ids count up from 1; none of them ever fires by itself.
  TimerId StartTimer(Duration after) override;
  void RunCompute(ComputeTask task) override;
  Rng& rng() override { return rng_; }
  Rng& privacy_rng() override { return separate_privacy_ ? privacy_rng_ : rng_; }
  MetricsSink& metrics() override { return *this; }
  void ReportBadPeer(PeerId peer, const Status& why) override;

  // From now on privacy_rng() is `stream`, apart from rng(): a test can then
  // tell which draws a node takes from which.
  void UseSeparatePrivacyStream(Rng stream) {
    privacy_rng_ = stream;
    separate_privacy_ = true;
  }

  void ReportModel(Round round, std::span<const float> params) override;
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view name, int64_t delta) override;

  // Moves the host's clock forward.
  void Advance(Duration d) { now_ = now_ + d; }

  // Runs the oldest pending compute task and tells `node` it finished.
  // REQUIRES: a compute task is pending.
  void FinishCompute(Node& node);

  std::vector<Sent> sent;
  std::vector<TimerId> timers;
  std::vector<ComputeTask> compute;
  std::vector<PeerId> bad_peers;
  std::map<uint32_t, std::vector<float>> models;  // by round
  std::map<std::string, int64_t> counters;

 private:
  PeerId self_;
  SimTime now_;
  Rng rng_;
  Rng privacy_rng_{1, PeerId(0), RngPurpose::kTest};
  bool separate_privacy_ = false;
  uint64_t next_timer_ = 1;
};

}  // namespace murmur::testing
