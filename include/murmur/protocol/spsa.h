// Decentralized zeroth-order training with shared randomness: "Just One Byte
// (per gradient): A Note on Low-Bandwidth Decentralized Language Model
// Finetuning Using Shared Randomness" (Zelikman, Huang, Liang, Haber,
// Goodman, 2023), building on MeZO (Malladi, Gao, Nichani, Damian, Lee,
// Chen, Arora, 2023, "Fine-Tuning Language Models with Just Forward Passes").
//
// Every peer holds the same model w. In step s each peer i draws z_{i,s}
// from the Philox stream (run seed, i, s) (learn/perturbation.h), estimates
// g = (L(w + eps z) - L(w - eps z)) / (2 eps) with two forward passes on one
// local mini-batch, quantizes g to one byte on the shared clipping scale
// `clip` (spsa_message.h) and sends (s, byte) -- 6 bytes -- to every other
// peer. Every peer then regenerates each received z_{j,s} and applies
//   w -= (lr / n) * dequantize(q_j) * z_{j,s}
// for every received (j, s), in ascending (s, j) order, so peers that
// receive the same updates hold bit-identical models.
//
// Fault semantics. A step waits for all n updates at most `round_timeout`
// after the peer's own estimate, then applies what arrived. Updates that
// arrive after their step was applied are applied at the next step (the
// update is additive, so the applied set converges even if the order
// differs), unless they are more than kLateWindow steps old. A peer that
// heard from fewer than half of the others in a step (it was offline or cut
// off) asks a peer it heard from (else the next id) for its current model
// and step count, and adopts the reply at the first step boundary where its
// own step count equals the reply's: joining or rejoining peers get the
// current model from a neighbour, not the log of seeds. A peer the failure
// detector declared down (OnPeerDown, the runtime's; the simulator declares
// none) is not waited for until it sends an update for the current step or
// a later one (it is back and in step), so neither a crash nor the restart
// that follows costs a round timeout every step. Tolerates crashes,
// churn and message loss; not Byzantine peers (one forged byte moves every
// model by at most lr * clip / n along a known direction).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/perturbation.h"
#include "murmur/protocol/fedkseed.h"

namespace murmur {

struct SpsaOptions {
  int64_t rounds = 0;  // steps; one step per round
  int64_t num_peers = 0;
  uint64_t seed = 0;   // run seed: keys every peer's perturbations
  float eps = 1e-3f;
  double lr = 1e-3;
  double clip = 10;    // shared quantization scale of the projected gradient
  NoiseKind noise = NoiseKind::kRademacher;
  Duration round_timeout;  // 0: wait forever
};

// One peer. `learner` must outlive the node; all peers must start from the
// same parameters.
class SpsaNode final : public Node {
 public:
  // Updates older than this many steps are dropped rather than applied.
  static constexpr int64_t kLateWindow = 64;

  SpsaNode(Learner& learner, const SpsaOptions& options);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override;
  void OnPeerDown(Host& host, PeerId peer) override;

  int64_t completed_steps() const { return step_; }

 private:
  enum class Phase { kComputing, kWaiting, kDone };
  PerturbationKey KeyFor(PeerId peer, int64_t step) const;
  void StartStep(Host& host);
  void ApplyIfComplete(Host& host);
  void Apply(Host& host);
  void OnUpdate(Host& host, PeerId from, std::span<const uint8_t> bytes);

  Learner& learner_;
  const SpsaOptions options_;
  PeerId self_;
  Phase phase_ = Phase::kComputing;
  int64_t step_ = 0;  // steps applied so far; the current step's id
  TimerId timeout_timer_;
  SpsaEstimate estimate_;
  // inbox_[step][peer] = quantized gradient not yet applied.
  std::map<int64_t, std::map<PeerId, int8_t>> inbox_;
  // applied_[step] = which peers' updates were applied, for recent steps.
  std::map<int64_t, std::vector<bool>> applied_;
  // Steps below this were adopted wholesale from another peer's model.
  int64_t adopted_below_ = 0;
  bool needs_sync_ = false;
  int64_t sync_attempts_ = 0;
  std::optional<std::pair<int64_t, std::vector<float>>> adopted_;  // (step, model)
  std::map<uint32_t, int64_t> served_at_;  // requester -> step its model was sent
  std::vector<bool> down_;  // by peer: declared down, not in step since
};

// protocol.kind = "spsa": zeroth-order training with shared randomness,
// either peer-to-peer one-byte broadcasts (SpsaNode) or FedKSeed
// (fedkseed.h). Its [spsa] keys (docs/config.md) are read by its spec
// (spsa_spec.cc).
struct SpsaConfig {
  enum class Mode { kBroadcast, kFedKSeed };
  Mode mode = Mode::kBroadcast;
  double eps = 1e-3;          // perturbation size
  double lr = 1e-3;           // step size of the zeroth-order update
  double clip = 10;           // broadcast: shared 1-byte quantization scale
  NoiseKind noise = NoiseKind::kRademacher;
  int64_t seed_pool = 4096;   // FedKSeed: K
  SeedSampling sampling = SeedSampling::kUniform;  // FedKSeed
  double importance_alpha = 1.0;                   // FedKSeed-Pro
  double client_fraction = 1.0;                    // FedKSeed: protocol.client_fraction
};

}  // namespace murmur
