// FedKSeed (Qin, Chen, Ding, Li, Ye, 2024, "Federated Full-Parameter Tuning
// of Billion-Sized Language Models with Communication Cost under 18
// Kilobytes"): federated zeroth-order training over a finite pool of K
// perturbation seeds shared by everyone.
//
// Round r: the server sends every client the previous round's aggregate as
// (seed index, coefficient) pairs and marks the selected clients. Every
// client adds coefficient * z_k for each pair, in ascending index order, to
// its copy of the global model, so all copies and the server's stay bit-
// identical. A selected client then takes `local_steps` SPSA steps, each
// along a pool direction z_k chosen uniformly or, in FedKSeed-Pro's
// importance mode, with probability proportional to exp(alpha * psi_k),
// where psi_k is the client's min-max-normalized mean |g| for seed k so far
// (unseen seeds count as the largest). It replies with its (index, g)
// pairs, restores the global model, and the server sums
// -lr * g / |replies| per index into the next aggregate. z_k is keyed by
// (run seed, k), purpose kSeedPool.
//
// Fault semantics: the server waits for the selected clients at most
// `round_timeout` after the round began, then aggregates what arrived (none:
// an empty aggregate). A client the failure detector declares down
// (OnPeerDown, the runtime's; the simulator declares none) is not waited for
// in the round under way once another selected client replied (its reply
// still counts if it comes), and is not selected until it sends again or
// reconnects (OnPeerUp), unless no client is up ("fedkseed.clients_down").
// A client that sees a gap in the rounds (it missed an aggregate) asks the
// server for the global model before training. Tolerates
// client crashes, churn and loss; the server is a single point of failure;
// not Byzantine-robust.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/perturbation.h"
#include "murmur/protocol/spsa_message.h"

namespace murmur {

enum class SeedSampling { kUniform, kImportance };

struct FedKSeedOptions {
  int64_t rounds = 0;
  uint64_t seed = 0;        // run seed
  uint32_t pool = 4096;     // K
  int64_t local_steps = 1;  // tau
  double client_fraction = 1.0;
  float eps = 1e-3f;
  double lr = 1e-3;
  NoiseKind noise = NoiseKind::kRademacher;
  SeedSampling sampling = SeedSampling::kUniform;
  double importance_alpha = 1.0;
  Duration round_timeout;  // 0: wait forever
};

// The pool direction z_k.
PerturbationKey SeedPoolKey(const FedKSeedOptions& options, uint32_t index);

// Adds coefficient * z_k for every pair, in the order given (ascending
// index for aggregates), to `params`.
void ApplySeedScalars(std::span<float> params, std::span<const SeedScalar> pairs,
                      const FedKSeedOptions& options);

// FedKSeed-Pro's unnormalised seed weights exp(alpha * psi_k), where psi_k
// is seed k's mean |g| so far (abs_sum[k] / abs_count[k]) min-max
// normalised over the seen seeds; unseen seeds, and all seeds while the seen
// means are all equal, get psi = 1. REQUIRES: abs_sum.size() ==
// abs_count.size().
std::vector<double> ImportanceWeights(std::span<const double> abs_sum,
                                      std::span<const uint32_t> abs_count, double alpha);

// The `options.local_steps` pool indices a client trains along, each in
// [0, options.pool): uniform, or drawn independently with probability
// proportional to ImportanceWeights. REQUIRES: abs_sum and abs_count have
// options.pool entries.
std::vector<uint32_t> DrawSeedIndices(const FedKSeedOptions& options,
                                      std::span<const double> abs_sum,
                                      std::span<const uint32_t> abs_count, Rng& rng);

// A client. `learner` must outlive it; it must start from the server's
// initial model.
class FedKSeedClient final : public Node {
 public:
  FedKSeedClient(Learner& learner, const FedKSeedOptions& options, PeerId server);

  void OnStart(Host& host) override {}
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override {}
  void OnComputeDone(Host& host, uint64_t tag) override;

 private:
  void HandleRound(Host& host, const KSeedFrame& frame);

  Learner& learner_;
  const FedKSeedOptions options_;
  const PeerId server_;
  bool training_ = false;
  uint32_t synced_ = 0;  // aggregates applied (the global model's round)
  uint32_t training_round_ = 0;
  std::vector<float> global_;  // the global model, kept only while training
  std::vector<SeedScalar> pairs_;
  double loss_ = 0;
  std::vector<KSeedFrame> queued_;  // rounds that arrived mid-training
  bool awaiting_model_ = false;
  // Importance sampling history: sum of |g| and count per seed.
  std::vector<double> abs_sum_;
  std::vector<uint32_t> abs_count_;
};

// The server. Owns the global model (the run's evaluation point).
class FedKSeedServer final : public Node {
 public:
  FedKSeedServer(std::vector<float> initial, const FedKSeedOptions& options,
                 std::vector<PeerId> clients);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override {}
  void OnPeerDown(Host& host, PeerId peer) override;
  void OnPeerUp(Host& host, PeerId peer) override;

  std::span<const float> global() const { return global_; }

 private:
  void StartRound(Host& host);
  void Aggregate(Host& host);
  // Every selected client replied or is down, and one replied (a round no
  // one replied to waits for its timeout).
  bool RoundComplete() const;

  std::vector<float> global_;
  const FedKSeedOptions options_;
  const std::vector<PeerId> clients_;
  Round round_;  // aggregates done
  bool done_ = false;
  TimerId timer_;
  std::vector<SeedScalar> aggregate_;  // the last round's, sent next round
  std::map<PeerId, bool> selected_;  // client -> replied
  std::map<uint32_t, std::vector<SeedScalar>> replies_;
  std::set<PeerId> down_;  // clients declared down, not heard from since
};

}  // namespace murmur
