// Streaming DiLoCo (Douillard et al., Google DeepMind, 2025, "Streaming
// DiLoCo with overlapping communication: Towards a Distributed Free
// Lunch", arXiv:2501.18512), over the collective
// layer (docs/collective.md) and the Host seam; DiLoCo itself is diloco.h.
// The parameters are cut into P = streaming.fragments contiguous fragments
// (the paper cuts by layer blocks; here fragment p is floats [L p / P,
// L (p+1) / P) of the flat vector). Every peer holds the same global
// parameters theta and outer momentum m, and its own local parameters.
//   * Schedule: fragment p starts an outer exchange after inner step t for
//     every t > 0 with t = floor(p H / P) (mod H), H = protocol.local_steps,
//     up to T = rounds x H (FragmentSyncs below). Every fragment is thus
//     exchanged every H steps, as in DiLoCo, but the exchanges are
//     staggered: at most one fragment's worth is on the wire at a time,
//     so the peak bandwidth is 1/P of DiLoCo's.
//   * Exchange: the pseudo-gradient delta_p = theta_p - local_p is averaged
//     over the live peers with the quantized ring all-reduce
//     (streaming.bits = 4 by default, collective.h: Quantization), with
//     error feedback (each peer keeps what quantization lost and adds it to
//     its next delta of that fragment; streaming.error_feedback).
//   * Overlap: the exchange runs while the peer takes tau =
//     streaming.overlap_steps more inner steps; after step t + tau (or at T)
//     the outer step (Nesterov SGD, diloco.outer_lr / outer_momentum as in
//     diloco.h) moves theta_p and m_p, and the local fragment is merged:
//     local_p = alpha local_p + (1 - alpha) theta_p, alpha = streaming.mix
//     (the paper's alpha; 0 replaces the local fragment by theta_p, which
//     with tau = 0 is DiLoCo on the fragment).
//   * With diloco.check_state, after every H steps the peers compare
//     BLAKE2b hashes of theta and m and a minority peer pulls the majority's
//     (collective/state_sync.h), as DiLoCo does.
// Fault tolerance is DiLoCo's: an exchange that loses a peer is aborted on
// every survivor (buffers and residuals restored) and redone over the
// survivors. The reported model is theta. A restarted peer (`rejoin`, or
// told Evicted after a plain restart) is admitted at an H boundary, where
// the members compare before starting that step's exchanges (none is in
// flight then), pulls theta and m and trains on from that step, as DiLoCo's
// joiner does (docs/protocols/streaming_diloco.md).
//
// Not thread-safe (a Node). `learner` must outlive the node.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "murmur/collective/collective_group.h"
#include "murmur/collective/state_sync.h"
#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/diloco.h"

namespace murmur {

// protocol.kind = "streaming_diloco": its [streaming] keys (and the
// [diloco] keys outer_lr, outer_momentum, nesterov, check_state).
struct StreamingConfig {
  DilocoConfig outer;        // `delayed` unused (refused at config time)
  int64_t fragments = 4;     // P
  int64_t overlap_steps = 1; // tau
  double mix = 0.5;          // alpha
  int bits = 4;              // 0 (float32), 8 or 4
  bool error_feedback = true;
};

struct StreamingOptions {
  int64_t rounds = 0;       // T = rounds x inner_steps
  int64_t inner_steps = 1;  // H
  StreamingConfig streaming;
  collective::CollectiveOptions collective;
  int max_attempts = 8;
  int64_t num_peers = 0;
  // A restarted peer: joins the group and pulls theta and m at the
  // members' next state check (an outer step boundary) before it trains.
  // REQUIRES: streaming.outer.check_state.
  bool rejoin = false;
};

// One outer exchange of a fragment: started after inner step `start`,
// applied after step `apply` = min(start + tau, total).
struct FragmentSync {
  int64_t start = 0;
  int64_t apply = 0;
  int64_t fragment = 0;
  auto operator<=>(const FragmentSync&) const = default;
};

// Every exchange of a run, ordered by start step then fragment.
// REQUIRES: 1 <= fragments <= inner_steps, overlap_steps >= 0.
std::vector<FragmentSync> FragmentSyncs(int64_t inner_steps, int64_t fragments,
                                        int64_t overlap_steps, int64_t total_steps);
// Fragment p's floats [begin, end) of `length`.
std::pair<size_t, size_t> FragmentRange(size_t length, int64_t fragments, int64_t p);

class StreamingDilocoNode final : public Node {
 public:
  // `initial` is the global start (every peer passes the same).
  StreamingDilocoNode(Learner& learner, StreamingOptions options, std::span<const float> initial);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  void OnPeerDown(Host& host, PeerId peer) override;
  Status Halted() const override { return rejoin_.halted(); }

  int64_t steps_done() const { return step_; }
  bool done() const { return done_; }
  std::span<const float> global() const { return {shared_.data(), length_}; }
  std::span<const float> momentum() const { return {shared_.data() + length_, length_}; }
  const collective::CollectiveGroup& group() const { return *group_; }
  // The most bytes this peer sent in one exchange (measured from start to
  // apply; exchanges do not overlap when tau < H / P).
  uint64_t peak_exchange_bytes() const { return peak_bytes_; }

 private:
  struct InFlight {
    FragmentSync sync;
    std::vector<float> buffer;  // delta, then the average
    uint64_t bytes_before = 0;
    bool finished = false;
    bool ok = false;
  };
  // Applies what is due, starts what is due, reports, then trains to the
  // next boundary (or waits for an exchange).
  void Advance(Host& host);
  void StartSync(Host& host, const FragmentSync& sync);
  void ApplySync(Host& host, InFlight& f);
  void ReportRound(Host& host);
  void CheckState(Host& host);
  // Joins the group (a restart, or after an eviction) and, once admitted,
  // pulls the state of the newest step a majority of the members hashed.
  void Rejoin(Host& host);
  void Resync(Host& host, uint32_t min_step);
  // Takes the pulled state of outer step `round` as this peer's: step
  // round x H, the exchanges from there on, local parameters = theta.
  void AdoptRound(Host& host, int64_t round);
  // After an event: greets new members and handles an eviction
  // (DilocoRejoin, as DiLoCo's AfterEvent).
  void AfterEvent(Host& host);
  // True when an H boundary's report and state check come before that
  // step's exchanges start (an overlap), false when after they were
  // applied (tau = 0, and the last step).
  bool ReportsBeforeStarting() const;
  bool Current(uint64_t gen) const { return rejoin_.Current(gen, *group_); }
  uint64_t Generation() const { return rejoin_.generation(); }
  std::span<float> Global() { return {shared_.data(), length_}; }
  std::span<float> Momentum() { return {shared_.data() + length_, length_}; }

  Learner& learner_;
  const StreamingOptions options_;
  const size_t length_;
  const int64_t total_;
  const std::vector<FragmentSync> syncs_;
  size_t next_sync_ = 0;  // first of syncs_ not started
  std::vector<std::unique_ptr<InFlight>> in_flight_;
  std::unique_ptr<collective::CollectiveGroup> group_;
  std::unique_ptr<collective::StateSync> sync_;
  std::vector<float> shared_;    // theta | m
  std::vector<float> residual_;  // error feedback, per float
  int64_t step_ = 0;
  int64_t next_stop_ = 0;
  int64_t reported_round_ = -1;
  bool computing_ = false;
  bool checking_ = false;
  bool advancing_ = false;
  bool done_ = false;
  double last_loss_ = 0;
  uint64_t peak_bytes_ = 0;
  bool resyncing_ = false;  // not yet holding the group's state
  DilocoRejoin rejoin_{"streaming", "diloco.check_state = true"};
};

}  // namespace murmur
