// FedAvg whose server learns only the sum of the round's client updates:
// secure aggregation (privacy/secagg.h; Bonawitz, Ivanov, Kreuter,
// Marcedone, McMahan, Patel, Ramage, Segal, Seth, 2017, "Practical Secure
// Aggregation for Privacy-Preserving Machine Learning"; SecAgg+ of Bell,
// Bonawitz, Gascón, Lepoint, Raykova, 2020, "Secure Single-Server
// Aggregation with (Poly)Logarithmic Overhead") run as real messages over
// the Host seam. Built by the "fedavg" spec when privacy.secure_aggregation
// is not "none" (fedavg_spec.cc).
//
// One round r (FedAvg's selection of m clients, fedavg.h):
//   server -> each selected client: setup (m, its index, the SecAgg+ graph
//     seed, the global model); the client trains E epochs from it;
//   client -> server: its public keys (phase 0); server -> client: the keys
//     of its neighbours that advertised;
//   client -> server: Shamir shares boxed for its neighbours (phase 1);
//     server -> client: the shares boxed for it;
//   client -> server: its masked update (phase 2), the fixed-point encoding
//     of (model - global), after local DP's clipping and noise when
//     privacy.mode = "local"; server -> client: who survived;
//   client -> server: unmasking shares (phase 3); the server reconstructs
//     the sum of the survivors' updates and moves the global model by their
//     mean (uniform weights: sample counts are not revealed).
// A phase closes when every client still in it has replied (or is declared
// down by the failure detector) or round_timeout after it opened; a client
// that misses a phase has dropped out. Fault semantics: the sum is
// recovered while enough share holders survive (secure_aggregation.h);
// otherwise the server logs the abort ("secagg.aborted_rounds"), keeps the
// global model, reports it for the round and starts the next round. The
// server only ever holds keys, boxes it cannot open and masked vectors.
// Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, 2021,
// "Differentially Private Learning with Adaptive Clipping", in the
// distributed form the paper runs under secure aggregation): the setup
// carries the round's clip C; each client clips its update to C, adds its
// share of the update noise, and appends its centred clip bit 1[norm <= C]
// - 1/2 plus its share N(0, sigma_b^2 / m) of the count noise as one more
// fixed-point coordinate of the masked input, so the server learns only the
// noisy sum of the survivors' bits and moves C by NextClipNormFromBits.
// With privacy.secagg_encoding = "rqm" each client masks its update's RQM
// level indices (Youn, Hu, Ziani, Abernethy, 2023, "Randomized Quantization
// is All You Need for Differential Privacy in Federated Learning") in the
// ring Z_{2^b}, b = ceil(log2(m (levels - 1) + 1)), bit-packed, and the
// server maps the exact index sum affinely to the sum of the decoded
// updates (secure_aggregation.h); not with adaptive clipping.
// Not with a robust rule, Byzantine clients, [compress] codecs or central DP
// (each needs individual updates; the spec refuses them).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/privacy/secure_aggregation.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/secagg_message.h"

namespace murmur {

struct SecAggFedAvgOptions {
  FedAvgOptions fedavg;  // rounds, selection, local epochs, timeout, local DP
  privacy::SecureAggregationConfig secagg;
  // Graph seeds of SecAgg+ rounds derive from it (the run seed).
  uint64_t seed = 0;
  // Client secrets: libsodium's randombytes (true) or the client's seeded
  // protocol stream (false: replayable, not secret; privacy.secagg_entropy).
  bool system_entropy = true;
};

// The server. Owns the global model. Not thread-safe (one event loop).
class SecAggFedAvgServer final : public Node {
 public:
  SecAggFedAvgServer(std::vector<float> initial_model, const SecAggFedAvgOptions& options,
                     std::vector<PeerId> clients);
  ~SecAggFedAvgServer() override;

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& /*host*/, uint64_t /*tag*/) override {}
  void OnPeerDown(Host& host, PeerId peer) override;

  std::span<const float> global_model() const { return global_; }
  int64_t completed_rounds() const { return round_; }
  // Rounds that ended without a sum (too few clients in some phase).
  int64_t aborted_rounds() const { return aborted_; }
  // The clients whose updates made the last recovered sum.
  const std::vector<PeerId>& last_survivors() const { return last_survivors_; }
  // The clip norm the next round sends (adaptive clipping; else the
  // configured one), and the one after each round so far.
  double clip_norm() const { return clip_; }
  const std::vector<double>& clip_history() const { return clip_history_; }

 private:
  void StartRound(Host& host);
  // Ends the open phase: the next phase's messages, or the sum.
  void ClosePhase(Host& host);
  void SendPhase(Host& host, const std::map<uint32_t, std::vector<uint8_t>>& messages);
  void FinishRound(Host& host, const Result<std::vector<double>>& sum);
  bool AllAwaitedReplied() const;

  std::vector<float> global_;
  const SecAggFedAvgOptions options_;
  const std::vector<PeerId> clients_;
  ServerOptimizer server_optimizer_;
  int64_t round_ = 0;  // rounds completed
  int64_t aborted_ = 0;
  bool done_ = false;
  // The open round: its clients by index, config, server state and phase.
  std::vector<PeerId> members_;
  std::map<PeerId, uint32_t> index_of_;
  std::unique_ptr<privacy::SecAggConfig> config_;
  std::unique_ptr<privacy::SecAggServer> secagg_;
  int phase_ = 0;
  std::set<uint32_t> awaited_;  // indices expected in this phase
  std::set<uint32_t> replied_;
  std::set<PeerId> down_;
  TimerId timer_;
  std::vector<PeerId> last_survivors_;
  std::vector<float> average_;
  double clip_ = 0;
  std::vector<double> clip_history_;
};

// Whether the run's clients append a clip bit to their masked input.
bool SecAggAdaptiveClipping(const SecAggFedAvgOptions& options);

// A client. `learner` must outlive the node.
class SecAggFedAvgClient final : public Node {
 public:
  SecAggFedAvgClient(Learner& learner, const SecAggFedAvgOptions& options, PeerId server);
  ~SecAggFedAvgClient() override;

  void OnStart(Host& /*host*/) override {}
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& /*host*/, TimerId /*timer*/) override {}
  void OnComputeDone(Host& host, uint64_t tag) override;

  // With adaptive clipping: the noisy clip bit of the last masked input this
  // client prepared, as the float it encoded (NaN before any).
  float last_clip_bit() const { return last_clip_bit_; }
  // With privacy.secagg_encoding = "rqm": the RQM level indices of the last
  // update this client prepared, what it masks (empty before any).
  const std::vector<uint32_t>& last_rqm_indices() const { return ring_input_; }

 private:
  void Begin(Host& host, SecAggSetup setup);
  void OnPhase(Host& host, const SecAggPhaseMessage& message);
  void Send(Host& host, uint8_t phase, std::span<const uint8_t> bytes);
  // Ends this client's part in the round (an abort or bad bytes).
  void Leave();

  Learner& learner_;
  const SecAggFedAvgOptions options_;
  const PeerId server_;
  bool training_ = false;
  double last_loss_ = 0;
  std::optional<SecAggSetup> pending_;  // a newer round's setup during training
  Round round_;
  std::vector<float> start_;
  std::vector<float> update_;  // the masked input: the update, then the clip bit
  std::vector<uint32_t> ring_input_;  // RQM: the update's level indices, masked instead
  double clip_ = 0;            // the round's clip (the server's, with adaptive clipping)
  float last_clip_bit_ = std::numeric_limits<float>::quiet_NaN();
  std::unique_ptr<privacy::SecAggConfig> config_;
  std::unique_ptr<privacy::SecAggClient> secagg_;
};

}  // namespace murmur
