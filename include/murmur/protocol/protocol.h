// Builds the nodes of a run from its protocol configuration: the one place
// that knows which Node classes exist. Used by the simulator and the runtime.
#pragma once

#include <any>
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
#include "murmur/privacy/client_dp.h"
#include "murmur/privacy/secure_aggregation.h"
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

// Codec chains (MakeCodec specs) for the protocols that compress. The
// defaults send everything uncompressed, as before compression existed.
// CHOCO and gossip read `codec`; FedAvg the rest (their specs read the keys).
struct CompressConfig {
  std::string codec = "fp32";     // CHOCO: what neighbours exchange
  std::string uplink = "fp32";    // FedAvg: client updates
  std::string downlink = "fp32";  // FedAvg: global models
  ErrorFeedbackKind error_feedback = ErrorFeedbackKind::kNone;  // FedAvg uplink
  double econtrol_eta = 0.5;      // FedAvg uplink with EControl
};

// What every protocol shares. The selected protocol's own options (its
// topology, fan-out, codec, ...) live in `options`, a type its spec defines
// and reads (registry.h; e.g. DpsgdConfig in dpsgd.h); empty means the
// spec's defaults.
struct ProtocolConfig {
  std::string kind = "dpsgd";      // a registered spec name (registry.h)
  int64_t rounds = 120;
  int64_t local_steps = 10;        // SGD steps per round or task (most protocols)
  double round_timeout_s = 10;     // synchronous rounds; 0 waits forever
  AggregatorConfig robust;         // how honest peers combine models
  // Peers exchange only the output layer (OutputLayerOf), the part a
  // frozen-body learner trains (train.trainable = "output").
  bool exchange_output_layer = false;
  int64_t gossip_window = 4;       // gossip with a robust rule: models kept
  ByzantineConfig byzantine;       // which peers attack, and how
  privacy::DpConfig privacy;       // [privacy]: clipping and noise (client_dp.h)
  // [privacy] secure_aggregation and secagg_*: FedAvg's masked sums
  // (secure_aggregation.h, fedavg_secagg.h).
  privacy::SecureAggregationConfig secure_aggregation;
  // privacy.secagg_entropy = "system" (true) or "seeded" (false).
  bool secagg_system_entropy = true;
  std::any options;                // the spec's own options
};

// Which reports make a round's evaluation point.
enum class RoundModel {
  kEveryHolder,  // every model holder's model (decentralized protocols)
  kFirstReport,  // the first model reported for the round (MoDeST: the
                 // round's aggregators all report the round's model)
};

// The nodes of a run as the rest of murmur sees them, known without building
// any node (LayoutOf in registry.h), so a network peer that builds only its
// own node knows the others' roles.
struct ProtocolLayout {
  int64_t num_nodes = 0;  // peers, plus the server when there is one
  // Peers whose reported models are the run's evaluation points: every
  // honest peer for decentralized protocols, the server for federated
  // protocols (FedAvg, FedProx, FedAsync, FedBuff, FedCompass, FedKSeed).
  std::vector<PeerId> model_holders;
  // The Byzantine peers (ChooseByzantinePeers), sorted.
  std::vector<PeerId> byzantine;
  RoundModel round_model = RoundModel::kEveryHolder;
  // The server node (the last one) when HasServer; traffic to and from it is
  // the run's uplink and downlink.
  std::optional<PeerId> server;
  // The model's number of parameters: what one release of a whole update
  // (e.g. RQM under secure aggregation) has as its dimension.
  int64_t model_dimension = 0;
};

struct ProtocolSetup {
  // nodes[i] runs as PeerId(i). A server is the last node.
  std::vector<std::unique_ptr<Node>> nodes;
  ProtocolLayout layout;
};

// Whether the protocol's nodes end with a server after the peers (FedAvg,
// FedProx, FedAsync, FedBuff, FedCompass, FedKSeed): MakeProtocol then
// returns one node more than it has learners. False for an unknown kind.
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
// Builds every node with the spec's per-peer builder (registry.h); an
// unknown protocol.kind is kInvalidArgument.
Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed,
                                   std::span<const Dataset* const> validation = {});

}  // namespace murmur
