// Builds the nodes of a run from its protocol configuration: the one place
// that knows which Node classes exist. Used by the simulator and the runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/topology.h"
#include "murmur/robust/factory.h"

namespace murmur {

enum class ProtocolKind { kFedAvg, kDpsgd, kGossip };

struct ProtocolConfig {
  ProtocolKind kind = ProtocolKind::kDpsgd;
  int64_t rounds = 120;
  int64_t local_steps = 10;        // D-PSGD and gossip: SGD steps per round
  double round_timeout_s = 10;     // D-PSGD and FedAvg; 0 waits forever
  TopologyConfig topology;         // D-PSGD and gossip
  double client_fraction = 1.0;    // FedAvg: C
  int64_t local_epochs = 1;        // FedAvg: E
  double gossip_period_s = 1.0;    // gossip: time between pushes
  AggregatorConfig robust;         // how honest peers combine models
  int64_t gossip_window = 4;       // gossip with a robust rule: models kept
  ByzantineConfig byzantine;       // which peers attack, and how
};

struct ProtocolSetup {
  // nodes[i] runs as PeerId(i). FedAvg's server is the last node.
  std::vector<std::unique_ptr<Node>> nodes;
  // Peers whose reported models are the run's evaluation points: every
  // honest peer for decentralized protocols, the server for FedAvg.
  std::vector<PeerId> model_holders;
  // The Byzantine peers (ChooseByzantinePeers), sorted.
  std::vector<PeerId> byzantine;
};

// learners[i] is the learner of PeerId(i); they must outlive the nodes.
// Returns kInvalidArgument for a topology that cannot be built for this many
// peers or that is disconnected, a bad [robust] rule or option, or a
// Byzantine configuration the protocol does not support. For label-flip and
// sybil attacks the Byzantine peers' learners should train on
// MakePoisonedDataset (RunExperiment does this).
Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed);

}  // namespace murmur
