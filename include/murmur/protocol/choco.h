// CHOCO-SGD (Koloskova, Stich, Jaggi, 2019, "Decentralized Stochastic
// Optimization and Gossip Algorithms with Compressed Communication",
// Algorithm 2): decentralized SGD whose peers exchange only compressed
// model differences. Every peer i keeps its model x_i, its public copy
// x_hat_i and its copies of its neighbours' public models x_hat_j. Each
// synchronous round it takes `local_steps` SGD steps, sends
// q_i = Q(x_i - x_hat_i) (Q: any codec chain, e.g. top-k) to its neighbours,
// applies q_j to x_hat_j for itself and every neighbour, and mixes
//   x_i += gamma * sum_j w_ij (x_hat_j - x_hat_i)
// with the Metropolis-Hastings weights w of the topology. With Q the
// identity and gamma = 1 this is exactly gossip averaging (D-PSGD's mix).
// The paper takes one SGD step per round; `local_steps` > 1 is the common
// local-update variant.
//
// Fault semantics. The public copies stay correct only if every q arrives,
// so each delta carries its round as a sequence number and a peer tracks,
// per neighbour, the last round it applied:
//   * links are FIFO, so a delta for a later round arriving while the next
//     expected one has not means that one was lost: the peer sends a
//     resync request naming the last round it applied (at most one per
//     neighbour per round); the neighbour resends the missed deltas if it
//     still has them (it keeps its last 4), and otherwise answers with its
//     whole public model as an fp32 snapshot tagged with its round, after
//     which deltas up to that round are dropped and later ones applied in
//     order;
//   * a late delta that is still the next in sequence is applied when it
//     arrives, so a slow neighbour costs nothing but its mixing term;
//   * a neighbour whose copy is not current for the round being mixed
//     (missing, lost, offline) contributes no term that round, so its weight
//     stays with the peer (as in D-PSGD), and a round closes when all
//     neighbours are current or `round_timeout` after training ended:
//     offline peers and lost messages never deadlock a round;
//   * a neighbour the failure detector declared down (OnPeerDown, the
//     runtime's; the simulator declares none) is not waited for until it
//     sends a delta or snapshot for a round not yet mixed (it is back and
//     in step), so a crash costs the survivors its mixing term, not a
//     round timeout every round.
// Tolerates crash faults and message loss; not Byzantine faults (a
// malicious delta moves everyone's copy of the sender; see robust/).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/codec_stages.h"
#include "murmur/protocol/topology.h"
#include <string>

namespace murmur {

// Where the public copies x_hat start. The paper starts them at 0, so the
// first rounds spend the compressed budget on transmitting the initial
// model itself (with top-1% that takes ~100 rounds). When every peer starts
// from the same model (train.init = "same") all copies can start at it
// instead: every peer knows it without a message.
enum class ChocoPublicStart { kZero, kSharedInitialModel };

// Built by MakeProtocol from ProtocolConfig, which holds the defaults.
struct ChocoOptions {
  int64_t rounds = 0;
  int64_t local_steps = 0;
  double gamma = 0;        // consensus step size, in (0, 1]
  Duration round_timeout;  // 0: wait forever
  uint64_t seed = 0;       // run seed: codec randomness (rand-k, rounding)
  // kSharedInitialModel: the learner's parameters at construction, which
  // REQUIRES every peer of the run to start from the same ones.
  ChocoPublicStart public_start = ChocoPublicStart::kZero;
};

// One peer. `learner` must outlive the node; the codec is shared by all
// peers of a run (codecs are immutable and thread-safe).
class ChocoNode final : public Node {
 public:
  // `neighbours` (sorted) and `neighbour_weights` are aligned.
  ChocoNode(Learner& learner, const ChocoOptions& options,
            std::shared_ptr<const Codec> codec, std::vector<PeerId> neighbours,
            std::vector<double> neighbour_weights);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  void OnPeerDown(Host& host, PeerId peer) override;

  int64_t completed_rounds() const { return round_; }
  const std::vector<PeerId>& neighbours() const { return neighbours_; }
  // x_hat_i: what every neighbour holds of this peer when in sync.
  std::span<const float> public_model() const { return public_; }
  // This peer's copy of neighbour `k`'s public model (k indexes neighbours).
  std::span<const float> neighbour_public_model(size_t k) const {
    return neighbour_public_[k];
  }

 private:
  enum class Phase { kTraining, kWaiting, kDone };
  void StartRound(Host& host);
  void OnDelta(Host& host, size_t k, PeerId from, Round round,
               std::span<const uint8_t> frame);
  void OnSnapshot(Host& host, size_t k, PeerId from, Round round,
                  std::span<const uint8_t> frame);
  // `applied`: the last of this peer's rounds the requester applied;
  // `first_buffered`: the first it holds beyond that (0: none).
  void OnResyncRequest(Host& host, size_t k, PeerId from, int64_t applied,
                       uint64_t first_buffered);
  // Applies buffered deltas of neighbour k that are next in sequence, up to
  // the round being mixed, then asks for a snapshot if a gap remains.
  void CatchUp(Host& host, size_t k);
  // Asks neighbour k for a snapshot, at most once per own round.
  void RequestResync(Host& host, size_t k);
  void MixIfComplete(Host& host);
  void Mix(Host& host);

  Learner& learner_;
  const ChocoOptions options_;
  const std::shared_ptr<const Codec> codec_;
  const std::unique_ptr<Codec> snapshot_codec_;  // fp32
  const CodecStages stages_;  // "bytes_stage_*" counters
  const std::vector<PeerId> neighbours_;
  const std::vector<double> neighbour_weights_;

  Phase phase_ = Phase::kTraining;
  int64_t round_ = 0;          // rounds completed (mixed) so far
  int64_t public_round_ = 0;   // deltas applied to public_
  TimerId timeout_timer_;
  double last_loss_ = 0;
  std::vector<float> public_;  // x_hat_i
  // The last few delta messages sent, by round, for retransmission.
  std::deque<std::pair<int64_t, std::vector<uint8_t>>> sent_history_;
  std::vector<float> scratch_;
  std::vector<float> decoded_;
  // Per neighbour k:
  std::vector<std::vector<float>> neighbour_public_;  // x_hat_k
  std::vector<int64_t> applied_;         // last round applied to x_hat_k
  std::vector<int64_t> requested_at_;    // own round of the last resync request
  std::vector<int64_t> answered_at_;     // own round of the last snapshot sent
  std::vector<bool> down_;               // declared down, not in step since
  std::vector<std::map<int64_t, SparseUpdate>> pending_;  // by round
};

// protocol.kind = "choco": its keys (docs/config.md), read by its spec
// (choco_spec.cc).
struct ChocoConfig {
  TopologyConfig topology;
  double gamma = 0.5;          // protocol.choco_gamma
  std::string codec = "fp32";  // compress.codec
};

}  // namespace murmur
