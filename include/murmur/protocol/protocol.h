// Builds the nodes of a run from its protocol configuration: the one place
// that knows which Node classes exist. Used by the simulator and the runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"
#include "murmur/protocol/fedavg_compression.h"
#include "murmur/protocol/topology.h"

namespace murmur {

enum class ProtocolKind { kFedAvg, kDpsgd, kGossip, kChoco };

// Codec chains (MakeCodec specs) for the protocols that compress. The
// defaults send everything uncompressed, as before compression existed.
struct CompressConfig {
  std::string codec = "fp32";     // CHOCO: what neighbours exchange
  std::string uplink = "fp32";    // FedAvg: client updates
  std::string downlink = "fp32";  // FedAvg: global models
  ErrorFeedbackKind error_feedback = ErrorFeedbackKind::kNone;  // FedAvg uplink
  double econtrol_eta = 0.5;      // FedAvg uplink with EControl
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
  double choco_gamma = 0.5;        // CHOCO: consensus step size
  CompressConfig compress;
};

struct ProtocolSetup {
  // nodes[i] runs as PeerId(i). FedAvg's server is the last node.
  std::vector<std::unique_ptr<Node>> nodes;
  // Peers whose reported models are the run's evaluation points: every peer
  // for decentralized protocols, the server for FedAvg.
  std::vector<PeerId> model_holders;
};

// learners[i] is the learner of PeerId(i); they must outlive the nodes.
// Returns kInvalidArgument for a topology that cannot be built for this many
// peers or that is disconnected.
Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed);

}  // namespace murmur
