// Builds the nodes of a run from its protocol configuration: the one place
// that knows which Node classes exist. Used by the simulator and the runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/comm_schedule.h"
#include "murmur/protocol/fedavg_compression.h"
#include "murmur/protocol/fedkseed.h"
#include "murmur/protocol/model_merge.h"
#include "murmur/protocol/server_optimizer.h"
#include "murmur/protocol/staleness.h"
#include "murmur/protocol/topology.h"
#include "murmur/robust/factory.h"

namespace murmur {

enum class ProtocolKind {
  kFedAvg, kDpsgd, kGossip,
  kFedProx, kFedAsync, kFedBuff, kFedCompass,
  kChoco, kModest, kEpidemic, kDfedsam, kSpsa,
};

// Codec chains (MakeCodec specs) for the protocols that compress. The
// defaults send everything uncompressed, as before compression existed.
struct CompressConfig {
  std::string codec = "fp32";     // CHOCO: what neighbours exchange
  std::string uplink = "fp32";    // FedAvg: client updates
  std::string downlink = "fp32";  // FedAvg: global models
  ErrorFeedbackKind error_feedback = ErrorFeedbackKind::kNone;  // FedAvg uplink
  double econtrol_eta = 0.5;      // FedAvg uplink with EControl
};

// protocol.kind = "spsa": zeroth-order training with shared randomness,
// either peer-to-peer one-byte broadcasts (spsa.h) or FedKSeed (fedkseed.h).
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
};

struct ProtocolConfig {
  ProtocolKind kind = ProtocolKind::kDpsgd;
  int64_t rounds = 120;
  int64_t local_steps = 10;        // D-PSGD and gossip: SGD steps per round
  double round_timeout_s = 10;     // D-PSGD and FedAvg; 0 waits forever
  TopologyConfig topology;         // D-PSGD and gossip
  double client_fraction = 1.0;    // FedAvg: C
  int64_t local_epochs = 1;        // FedAvg: E
  double gossip_period_s = 1.0;    // gossip: time between pushes
  // Server and asynchronous federated learning (docs/protocols/).
  ServerOptimizerConfig server_optimizer;  // FedAvg, FedProx, FedBuff, FedCompass
  double proximal_mu = 0;          // FedProx, FedAsync: local proximal term
  double local_time_budget_s = 0;  // FedProx: partial work; 0: full epochs
  double async_alpha = 0.6;        // FedAsync: mixing weight
  StalenessConfig staleness;       // FedAsync, FedBuff, FedCompass
  int64_t buffer_size = 10;        // FedBuff: K
  int64_t max_concurrency = 0;     // FedAsync, FedBuff: 0 = all clients
  int64_t compass_min_steps = 2;   // FedCompass: Q_min (Q_max = local_steps)
  double compass_lambda = 1.2;     // FedCompass: latest arrival factor
  // Decentralized variants (docs/protocols/).
  MergeRule merge = MergeRule::kAverage;               // gossip
  CommSchedule comm_schedule = CommSchedule::kEveryRound;  // D-PSGD
  int64_t comm_budget = 0;         // D-PSGD, kLate: communicating rounds
  bool final_merge = false;        // D-PSGD: last round averages all peers
  int64_t modest_trainers = 10;    // MoDeST: s
  int64_t modest_aggregators = 2;  // MoDeST: a
  double modest_success_fraction = 1.0;  // MoDeST: sf
  double modest_ping_timeout_s = 0.5;    // MoDeST
  int64_t epidemic_fanout = 7;     // Epidemic Learning: s
  int64_t gossip_steps = 1;        // DFedSAM: Q (> 1: DFedSAM-MGS)
  double choco_gamma = 0.5;        // CHOCO: consensus step size
  CompressConfig compress;
  AggregatorConfig robust;         // how honest peers combine models
  // D-PSGD: peers exchange only the output layer (OutputLayerOf), the part
  // a frozen-body learner trains (train.trainable = "output").
  bool exchange_output_layer = false;
  int64_t gossip_window = 4;       // gossip with a robust rule: models kept
  ByzantineConfig byzantine;       // which peers attack, and how
  SpsaConfig spsa;                 // spsa
};

// Which reports make a round's evaluation point.
enum class RoundModel {
  kEveryHolder,  // every model holder's model (decentralized protocols)
  kFirstReport,  // the first model reported for the round (MoDeST: the
                 // round's aggregators all report the round's model)
};

struct ProtocolSetup {
  // nodes[i] runs as PeerId(i). FedAvg's server is the last node.
  std::vector<std::unique_ptr<Node>> nodes;
  // Peers whose reported models are the run's evaluation points: every
  // honest peer for decentralized protocols, the server for federated protocols
  // (FedAvg, FedProx, FedAsync, FedBuff, FedCompass), whose server is the
  // last node.
  std::vector<PeerId> model_holders;
  // The Byzantine peers (ChooseByzantinePeers), sorted.
  std::vector<PeerId> byzantine;
  RoundModel round_model = RoundModel::kEveryHolder;
  // The server node (the last one) when HasServer; traffic to and from it is
  // the run's uplink and downlink.
  std::optional<PeerId> server;
};

// Whether the protocol's nodes end with a server after the peers (FedAvg,
// FedProx, FedAsync, FedBuff, FedCompass, FedKSeed): MakeProtocol then
// returns one node more than it has learners.
bool HasServer(const ProtocolConfig& config);

// learners[i] is the learner of PeerId(i); they must outlive the nodes.
// Returns kInvalidArgument for a topology that cannot be built for this many
// peers or that is disconnected, a bad [robust] rule or option, or a
// Byzantine configuration the protocol does not support. For label-flip and
// sybil attacks the Byzantine peers' learners should train on
// MakePoisonedDataset (RunExperiment does this). `validation[i]` is peer
// i's local validation split, which robust.rule = "bristle" needs for every
// honest peer (kInvalidArgument when missing or empty); the datasets must
// outlive the nodes. Bristle also needs exchange_output_layer and D-PSGD.
Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed,
                                   std::span<const Dataset* const> validation = {});

}  // namespace murmur
