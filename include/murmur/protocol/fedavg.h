// Federated averaging (McMahan, Moore, Ramage, Hampson, Aguera y Arcas,
// 2017, "Communication-Efficient Learning of Deep Networks from
// Decentralized Data"). A server keeps the global model; each round it picks
// max(1, round(C * K)) of its K clients at random, sends them the global
// model, each client runs `local_epochs` epochs of SGD from it with a fresh
// optimizer and returns its model and sample count, and the server replaces
// the global model with the sample-weighted average of the replies.
//
// Fault semantics: the server closes a round when every selected client has
// replied or `round_timeout` after it began, averaging whatever arrived (the
// global model is kept if nothing did). Late replies are ignored. Tolerates
// crashed or offline clients; a crashed server stops training. A server
// restored from its snapshot (Restore, then OnStart: a runtime server
// resumed by `murmur peer --persist-every`) starts the round after its saved
// one again, sending that round's global model to the clients that kept
// running: a client ignores a resent global model of the round it is
// training (its update answers it), and the server ignores a second update
// of a client for one round (one queued for it while it was down may arrive
// besides the answer to the resent model), counting it as
// "fedavg.duplicate_updates". Its pick of the round's clients comes from
// its host's random stream, which restarts with the process, so it may
// differ from the killed server's: an update for the round from a client it
// did not pick (the killed server sent it the round's model) is ignored and
// counted as "fedavg.unselected_updates". Either is dropped before its
// parameters are decoded, and only one of them per client and round: a
// further one is reported as a bad peer (an insider cannot make the server
// read updates without end); an update from a peer that is not a client
// always is. Not Byzantine
// robust with the default average. With a robust rule (the run's [robust]
// table, protocol/model_combiner.h) the server instead applies that rule to
// the client updates (reply - global model) and adds the result to the
// global model; a round whose replies fail the rule's precondition keeps
// the global model and is counted as "robust.failed_aggregations".
//
// With [privacy] (privacy/client_dp.h; McMahan, Ramage, Talwar, Zhang, 2018,
// "Learning Differentially Private Recurrent Language Models", DP-FedAvg)
// the server weights every reply equally (sample counts would let one
// client outweigh the clip norm). kCentral: the server clips each update
// (reply - global) to `clip` and adds N(0, (z clip / r)^2) per coordinate to
// the average of the r replies, i.e. noise z clip on their sum. kLocal: each
// client clips its update and adds N(0, (z clip)^2 / m) itself, m the
// clients selected per round, so the sum carries the same noise when all m
// reply and the server never sees an un-noised update. With adaptive
// clipping (Andrew, Thakkar, McMahan, Ramaswamy, 2021, "Differentially
// Private Learning with Adaptive Clipping") the server moves `clip` after
// each round towards the target quantile of the update norms, from a noisy
// count of the replies within it: kCentral counts the norms it clips;
// kLocal sends each client the round's clip with the global model and each
// client reports a noised clip bit with its update (dp_fedavg_message.h),
// so the server never sees a norm.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/privacy/client_dp.h"
#include "murmur/protocol/fedavg_compression.h"
#include "murmur/protocol/model_combiner.h"
#include "murmur/protocol/model_message.h"
#include "murmur/protocol/server_optimizer.h"
#include "murmur/protocol/protocol.h"

namespace murmur {

// FedProx's client side (fedprox.h): the proximal local objective
// F_k(w) + mu/2 ||w - w_global||^2 and, with a `local_time_budget`, partial
// work sized to the speed measured on the previous round.
struct FedProxOptions {
  double mu = 0;                // proximal coefficient
  Duration local_time_budget;   // 0: always the full E epochs
};

// Built by the "fedavg" and "fedprox" specs (fedavg_spec.cc) from FedAvgConfig.
struct FedAvgOptions {
  int64_t rounds = 0;
  double client_fraction = 0;
  int64_t local_epochs = 0;
  Duration round_timeout;  // from the start of a round; 0: wait forever
  // How the round's average moves the global model (default: replaces it).
  ServerOptimizerConfig server_optimizer;
  // Disabled by default: uncompressed ModelMessages (see
  // fedavg_compression.h for the compressed formats).
  FedAvgCompression compression;
  // Set: the clients are FedProx clients (fedprox.h). Unset: plain FedAvg.
  std::optional<FedProxOptions> fedprox;
  // Client-level DP (see above); mode kNone: none. Not with compression or
  // a robust rule (the spec refuses those).
  privacy::DpConfig dp;
  double client_noise_stddev = 0;  // kLocal: z clip / sqrt(m) (z_delta with adaptive clipping)
  double client_bit_noise_stddev = 0;  // kLocal, adaptive: sigma_b / sqrt(m) on each clip bit
  // kCentral: the noise multiplier on the updates' sum (z, or z_delta with
  // adaptive clipping).
  double update_noise_multiplier = 0;
};

// A round's clients: m = max(floor(fraction * K), 1) of the K `clients`,
// a uniform m-subset drawn with m rng.UniformInt calls (partial
// Fisher-Yates). REQUIRES: clients not empty.
std::set<PeerId> SelectRoundClients(const std::vector<PeerId>& clients, double fraction,
                                    Rng& rng);

// The server. Owns the global model buffer.
class FedAvgServer final : public Node {
 public:
  // `combiner` null or plain average: the sample-weighted average.
  FedAvgServer(std::vector<float> initial_model, const FedAvgOptions& options,
               std::vector<PeerId> clients,
               std::shared_ptr<const ModelCombiner> combiner = nullptr);

  void OnStart(Host& host) override;
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override;
  void OnComputeDone(Host& host, uint64_t tag) override {}
  // Own state only (Node::IndependentOfOtherNodes); not with a robust rule.
  bool IndependentOfOtherNodes() const override;
  // A selected client the failure detector declares down is no longer
  // waited for this round, nor in later rounds it is sampled in, until an
  // update of it arrives again ("fedavg.clients_down").
  void OnPeerDown(Host& host, PeerId peer) override;
  // Snapshots (fedavg_snapshot.cc): uncompressed, the sample-weighted
  // average or a robust rule (not a Python one), any server optimizer (its
  // moments are saved), no [privacy].
  bool CanSnapshot() const override;
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;
  // A runtime server persists its snapshot; restored, its OnStart starts
  // the round after the saved one again.
  PersistMode persist_mode() const override { return PersistMode::kBySnapshot; }

  std::span<const float> global_model() const { return global_; }
  int64_t completed_rounds() const { return round_; }
  // Central DP: the clip norm the next round uses.
  double clip_norm() const { return clip_; }

 private:
  void StartRound(Host& host);
  void FinishRound(Host& host);
  // Every selected client that is not down has replied.
  bool AllAwaitedReplied() const;
  // Adds one client's model, with its sample count, to the round.
  void AddReply(std::vector<float> model, double weight);
  void SendCodedGlobal(Host& host, Round round);
  void OnCodedUpdate(Host& host, PeerId from, std::span<const uint8_t> bytes);
  // Local DP with adaptive clipping: the round's clip travels with the
  // global model and a noisy clip bit with each update.
  bool local_adaptive() const;
  // Whether this round's update from client `from` is one to drop unread:
  // from a client not selected for the round, or a selected one that
  // replied already; the first such per client and round is counted, a
  // further one reported as a bad peer's. False for anything else (the
  // decoder then judges it), from its header alone.
  bool DropsBeforeDecoding(Host& host, PeerId from, std::span<const uint8_t> bytes);
  // The update as ModelMessage, from either wire format; kCorrupt as theirs.
  Result<ModelMessage> DecodeUpdate(std::span<const uint8_t> bytes, double* clip_bit) const;

  std::vector<float> global_;
  const FedAvgOptions options_;
  const std::vector<PeerId> clients_;

  int64_t round_ = 0;  // rounds completed
  bool done_ = false;
  TimerId timeout_timer_;
  std::set<PeerId> selected_;
  std::set<PeerId> replied_;
  // The clients whose one tolerated extra update of this round (unselected
  // or duplicate) arrived. Not in the snapshot: it only bounds what one
  // client can make the server read, and a restored server starts its round
  // again (Restore, then OnStart), which clears it.
  std::set<PeerId> extra_update_;
  std::set<PeerId> down_;  // declared down and not heard from since
  std::vector<double> sum_;  // sample-weighted sum of replies
  double total_weight_ = 0;
  ServerOptimizer server_optimizer_;
  std::vector<float> average_;
  // Compressed uplink: per-client decoder state, created on first reply.
  std::map<PeerId, UplinkDecoder> decoders_;
  std::vector<float> update_;
  const std::shared_ptr<const ModelCombiner> combiner_;
  // With a robust rule: the replies of this round and their sample counts.
  std::vector<std::vector<float>> replies_;
  std::vector<double> reply_weights_;
  // Central DP: the clip norm (adapted each round with adaptive clipping)
  // and this round's replies within it.
  double clip_ = 0;
  int64_t within_clip_ = 0;
  double clip_bit_sum_ = 0;  // kLocal adaptive: the replies' noisy clip bits
};

// A client. `learner` must outlive the node.
class FedAvgClient final : public Node {
 public:
  FedAvgClient(Learner& learner, const FedAvgOptions& options, PeerId server);

  void OnStart(Host& host) override {}
  void OnMessage(Host& host, PeerId from,
                 std::span<const uint8_t> message) override;
  void OnTimer(Host& host, TimerId timer) override {}
  void OnComputeDone(Host& host, uint64_t tag) override;
  // Own state only (Node::IndependentOfOtherNodes): its learner and codec.
  bool IndependentOfOtherNodes() const override { return true; }
  // Snapshots (fedavg_snapshot.cc): uncompressed, no [privacy].
  bool CanSnapshot() const override;
  void Save(SnapshotWriter& out) const override;
  Status Restore(SnapshotReader& in) override;
  // A runtime client persists its learner alone, after each persisted
  // round's training (restarted, it waits for the server's next round),
  // where it could snapshot; kNone otherwise.
  PersistMode persist_mode() const override {
    return CanSnapshot() ? PersistMode::kLearnerAtTrainLoss : PersistMode::kNone;
  }

  // Steps of the latest local training (for tests and metrics).
  int64_t last_steps() const { return steps_; }

 private:
  void Train(Host& host, Round round, const std::vector<float>& global);
  // E epochs' steps, or for FedProx with a time budget what fits it.
  int64_t LocalSteps(Host& host) const;
  void OnCodedGlobal(Host& host, std::span<const uint8_t> bytes);
  void SendCodedUpdate(Host& host, Round round);
  // kLocal: clips and noises the update to the round's clip and sends it.
  void SendPrivateUpdate(Host& host, Round round);

  Learner& learner_;
  const FedAvgOptions options_;
  const PeerId server_;
  bool training_ = false;
  double last_loss_ = 0;
  int64_t steps_ = 0;
  SimTime started_;
  double seconds_per_step_ = 0;  // measured on the previous round; 0: unknown
  // The round being trained (while training_).
  Round training_round_;
  // A newer global model that arrived while training the previous one.
  std::vector<float> pending_global_;
  Round pending_round_;
  // kLocal: the clip of the round being trained (the server's, with
  // adaptive clipping) and of the pending one.
  double clip_ = 0;
  double pending_clip_ = 0;
  // Compressed uplink: the encoder state and the model training started
  // from (the update is the change from it).
  std::optional<UplinkEncoder> uplink_;
  std::vector<float> start_;
};

// protocol.kind = "fedavg" and "fedprox": their keys (docs/config.md), read
// by their specs (fedavg_spec.cc). FedProx is FedAvg with a proximal term
// and partial work (FedAvgOptions::proximal_mu, local_time_budget).
struct FedAvgConfig {
  double client_fraction = 1.0;            // protocol.client_fraction: C
  int64_t local_epochs = 1;                // protocol.local_epochs: E
  ServerOptimizerConfig server_optimizer;  // protocol.server_optimizer, ...
  CompressConfig compress;                 // compress.uplink, downlink, ...
  double proximal_mu = 0;                  // fedprox: protocol.proximal_mu
  double local_time_budget_s = 0;          // fedprox: 0 = full epochs
};

}  // namespace murmur
