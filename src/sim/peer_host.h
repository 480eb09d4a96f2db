// The Host a simulated peer's node sees (private to sim/): sends, timers and
// compute go to the Simulator; its protocol stream is its own.
#pragma once

#include "murmur/core/log.h"
#include "murmur/sim/simulator.h"

namespace murmur {

class Simulator::PeerHost final : public Host {
 public:
  PeerHost(Simulator& sim, PeerId self, uint64_t seed, MetricsSink& sink)
      : sim_(sim), self_(self), rng_(seed, self, RngPurpose::kProtocol), sink_(sink) {}

  PeerId self() const override { return self_; }
  SimTime now() const override { return sim_.stats_.now; }
  void Send(PeerId to, std::vector<uint8_t> message) override {
    auto owner = std::make_shared<const std::vector<uint8_t>>(std::move(message));
    const std::span<const uint8_t> bytes(*owner);
    sim_.Send(self_, to, SharedMessage{.owner = std::move(owner), .bytes = bytes});
  }
  void SendShared(PeerId to, const SharedMessage& message) override {
    sim_.Send(self_, to, message);
  }
  TimerId StartTimer(Duration after) override { return sim_.StartTimer(self_, after); }
  void RunCompute(ComputeTask task) override { sim_.RunCompute(self_, std::move(task)); }
  Rng& rng() override { return rng_; }
  MetricsSink& metrics() override { return sink_; }
  void ReportBadPeer(PeerId peer, const Status& why) override {
    ++sim_.stats_.bad_peer_reports;
    if (sim_.stats_.bad_peer_reports <= 10) {
      Logf(LogLevel::kWarning, "peer %u rejected a message from peer %u: %s", self_.value,
           peer.value, why.ToString().c_str());
    }
  }

  // The snapshot saves and restores the stream (simulator_snapshot.cc).
  Rng& protocol_rng() { return rng_; }

 private:
  Simulator& sim_;
  const PeerId self_;
  Rng rng_;
  MetricsSink& sink_;
};

}  // namespace murmur
