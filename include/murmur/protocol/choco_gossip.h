// Compressed gossip learning: gossip learning (Ormandi, Hegedus, Jelasity,
// 2013, "Gossip learning with linear models on fully distributed data"; the
// merge-then-update form of Hegedus, Danner, Jelasity, 2019, see gossip.h)
// whose pushes carry CHOCO-style compressed differences (Koloskova, Stich,
// Jaggi, 2019, "Decentralized Stochastic Optimization and Gossip Algorithms
// with Compressed Communication") instead of whole models.
//
// CHOCO's public copies must be the same on both ends of a link, but a
// gossip push goes to one random neighbour, so the copies are per directed
// edge: sender i keeps, for every neighbour j, x_hat_{i->j}, the model j
// believes i has. A push to j sends q = Q(x_i - x_hat_{i->j}) (Q: any codec
// chain, MakeCodec) with the edge's sequence number; both ends add the
// decoded q to their copy of x_hat_{i->j} (the sender decodes its own frame
// with the receiver's decoder, so the two copies are bit-identical), and the
// receiver merges
//   x_j = (1 - gamma) x_j + gamma x_hat_{i->j}
// and takes `local_steps` SGD steps. With Q the identity and gamma = 1/2 this
// is plain gossip learning's pairwise average.
//
// Copies start at the shared initial model when every peer starts from the
// same one (nothing to send); otherwise an edge starts unsynced and its first
// push is an fp32 snapshot of x_i.
//
// Fault semantics (links are FIFO, messages may be lost):
//   * a delta whose sequence number is not the next one for its edge means
//     earlier ones were lost: the receiver drops it, keeps its copy as it
//     was, and sends a resync request naming the last sequence number it
//     applied (at most one per neighbour per own gossip cycle, so a lost
//     request or answer is retried at the next delta);
//   * the sender answers by resending, byte for byte, every message of the
//     edge after that number if it still has them (it keeps the last 4 per
//     edge), and otherwise with an fp32 snapshot of x_hat_{i->j}, after which
//     the receiver's copy equals the sender's again (at most one answer per
//     neighbour per own cycle);
//   * an unsynced or late edge only costs its merges: a peer never waits,
//     so loss and offline peers never stall the protocol.
// Memory: 2 x degree model-sized copies per peer, plus up to 4 sent
// messages per edge. Tolerates crash faults and message loss; not Byzantine
// faults (a malicious delta moves the receiver's copy arbitrarily), and it
// takes no [robust] rule.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/protocol/codec_stages.h"

namespace murmur {

// Built by MakeProtocol from ProtocolConfig, which holds the defaults.
struct ChocoGossipOptions {
  int64_t rounds = 0;       // gossip cycles per peer
  int64_t local_steps = 0;  // SGD steps after each merge
  Duration period;          // between a peer's pushes
  double gamma = 0.5;       // merge step in (0, 1]
  uint64_t seed = 0;        // run seed: codec randomness (rand-k, rounding)
  size_t max_queued = 8;    // merges waiting while the peer trains
  // Every peer starts from the learner's parameters at construction, so all
  // copies can start there. REQUIRES the same parameters on every peer.
  bool shared_initial_model = false;
};

// One peer. `learner` must outlive the node; the codec is shared by all
// peers of a run (codecs are immutable and thread-safe).
class ChocoGossipNode final : public Node {
 public:
  // REQUIRES: neighbours non-empty and sorted; codec != nullptr.
  ChocoGossipNode(Learner& learner, const ChocoGossipOptions& options,
                  std::shared_ptr<const Codec> codec, std::vector<PeerId> neighbours);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;

  int64_t cycles() const { return cycle_; }
  const std::vector<PeerId>& neighbours() const { return neighbours_; }
  // x_hat_{self->neighbours[k]}: what neighbour k believes this peer has.
  std::span<const float> sent_copy(size_t k) const { return out_[k].copy; }
  // x_hat_{neighbours[k]->self}: what this peer believes neighbour k has.
  std::span<const float> received_copy(size_t k) const { return in_[k].copy; }
  // Messages applied / sent on the edge (its sequence number).
  int64_t received_sequence(size_t k) const { return in_[k].applied; }
  int64_t sent_sequence(size_t k) const { return out_[k].sequence; }

 private:
  struct OutEdge {
    std::vector<float> copy;  // x_hat_{self->j}
    bool synced = false;      // false: the next push is a snapshot of x_i
    int64_t sequence = 0;     // messages that changed `copy` so far
    std::deque<std::pair<int64_t, std::vector<uint8_t>>> history;  // by sequence
    int64_t answered_at = -1;  // own cycle of the last resync answer
  };
  struct InEdge {
    std::vector<float> copy;  // x_hat_{j->self}
    bool valid = false;       // copy holds a state the sender had
    int64_t applied = 0;      // sequence number of that state
    int64_t requested_at = -1;  // own cycle of the last resync request
  };

  void ServeWakeUps(Host& host);
  void Push(Host& host, size_t k, uint32_t cycle);
  void Remember(OutEdge& edge, std::vector<uint8_t> bytes);
  void OnDelta(Host& host, size_t k, PeerId from, uint32_t cycle, int64_t sequence,
               std::span<const uint8_t> frame);
  void OnSnapshot(Host& host, size_t k, PeerId from, int64_t sequence,
                  std::span<const uint8_t> frame);
  void OnResyncRequest(Host& host, size_t k, PeerId from, int64_t applied);
  void RequestResync(Host& host, size_t k);
  // Merges toward neighbour k's copy and trains, or queues that while
  // training.
  void Received(Host& host, size_t k);
  void MergeAndTrain(Host& host, size_t k);

  Learner& learner_;
  const ChocoGossipOptions options_;
  const std::shared_ptr<const Codec> codec_;
  const std::unique_ptr<Codec> snapshot_codec_;  // fp32
  const CodecStages stages_;
  const std::vector<PeerId> neighbours_;

  int64_t cycle_ = 0;
  int64_t served_cycles_ = 0;
  bool training_ = false;
  double last_loss_ = 0;
  std::vector<OutEdge> out_;
  std::vector<InEdge> in_;
  std::deque<size_t> queue_;  // neighbours to merge toward, after training
  std::vector<float> scratch_;
  SparseUpdate update_;
};

}  // namespace murmur
