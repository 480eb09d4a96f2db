// The Host a simulated peer's node sees (private to sim/): sends, timers and
// compute go to the Simulator; its protocol stream is its own. Inside a
// parallel window (simulator.h) it logs what the node asks for in the peer's
// PeerLog instead, and the commit applies it in serial order.
#pragma once

#include <algorithm>

#include "murmur/core/log.h"
#include "murmur/sim/simulator.h"
#include "sim/event_window.h"

namespace murmur {

class Simulator::PeerHost final : public Host {
 public:
  PeerHost(Simulator& sim, PeerId self, uint64_t seed, MetricsSink& sink)
      : sim_(sim), self_(self), rng_(seed, self, RngPurpose::kProtocol), sink_(sink),
        logged_sink_(*this) {}

  PeerId self() const override { return self_; }
  SimTime now() const override { return log_ ? now_ : sim_.stats_.now; }
  void Send(PeerId to, std::vector<uint8_t> message) override {
    auto owner = std::make_shared<const std::vector<uint8_t>>(std::move(message));
    const std::span<const uint8_t> bytes(*owner);
    SendShared(to, SharedMessage{.owner = std::move(owner), .bytes = bytes});
  }
  void SendShared(PeerId to, const SharedMessage& message) override {
    if (log_ == nullptr) {
      sim_.Send(self_, to, message);
      return;
    }
    MURMUR_CHECK(to.value < sim_.nodes_.size());
    Op& op = Log(Op::Kind::kSend);
    op.flag = sim_.online_[self_.value] != 0;
    op.event.peer = to;
    op.event.message = message;
  }
  TimerId StartTimer(Duration after) override { return sim_.StartTimer(self_, after); }
  void RunCompute(ComputeTask task) override { sim_.RunCompute(self_, std::move(task)); }
  Rng& rng() override { return rng_; }
  // The seeded protocol stream itself (Host::privacy_rng): simulated runs
  // replay from their seed, privacy draws included.
  Rng& privacy_rng() override { return rng_; }
  MetricsSink& metrics() override {
    return log_ ? static_cast<MetricsSink&>(logged_sink_) : sink_;
  }
  void ReportBadPeer(PeerId peer, const Status& why) override {
    if (log_ != nullptr) {
      Op& op = Log(Op::Kind::kBadPeer);
      op.event.from = peer;
      op.status = why;
      return;
    }
    sim_.CountBadPeer(self_, peer, why);
  }

  // The snapshot saves and restores the stream (simulator_snapshot.cc).
  Rng& protocol_rng() { return rng_; }
  MetricsSink& sink() { return sink_; }

  // Window mode (event_window.cc): handlers' effects go to `log` and now()
  // is the time of the event being handled. nullptr: serial mode.
  void EnterWindow(PeerLog* log) { log_ = log; }
  PeerLog* log() const { return log_; }
  void set_now(SimTime now) { now_ = now; }
  Op& Log(Op::Kind kind) {
    log_->ops.push_back(Op{.kind = kind});
    return log_->ops.back();
  }

 private:
  // The node's MetricsSink inside a window: logs the calls, copying the
  // model only where the real sink would look at it.
  class LoggedSink final : public MetricsSink {
   public:
    explicit LoggedSink(PeerHost& host) : host_(host) {}
    void ReportModel(Round round, std::span<const float> params) override {
      if (host_.sink_.IgnoresModels()) return;
      Op& op = host_.Log(Op::Kind::kModel);
      op.index = round.value;
      op.params.assign(params.begin(), params.end());
    }
    void ReportTrainLoss(Round round, double loss) override {
      Op& op = host_.Log(Op::Kind::kLoss);
      op.index = round.value;
      op.value = loss;
    }
    void Count(std::string_view name, int64_t delta) override {
      Op& op = host_.Log(Op::Kind::kCount);
      op.text = std::string(name);
      op.index = delta;
    }
    bool IgnoresModels() const override { return host_.sink_.IgnoresModels(); }

   private:
    PeerHost& host_;
  };

  Simulator& sim_;
  const PeerId self_;
  Rng rng_;
  MetricsSink& sink_;
  LoggedSink logged_sink_;
  PeerLog* log_ = nullptr;
  SimTime now_;
};

}  // namespace murmur
