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
#include "murmur/protocol/fedkseed.h"
#include "murmur/protocol/topology.h"

namespace murmur {

enum class ProtocolKind { kFedAvg, kDpsgd, kGossip, kSpsa };

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
  SpsaConfig spsa;                 // spsa
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
