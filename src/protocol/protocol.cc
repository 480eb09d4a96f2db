#include "murmur/protocol/protocol.h"

#include <algorithm>

#include "murmur/protocol/byzantine_dpsgd.h"
#include "murmur/protocol/byzantine_fedavg.h"
#include "murmur/protocol/byzantine_gossip.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/gossip.h"
#include "murmur/robust/attacks.h"

namespace murmur {
namespace {

std::vector<PeerId> ToPeerIds(const std::vector<uint32_t>& ids) {
  std::vector<PeerId> out;
  out.reserve(ids.size());
  for (uint32_t id : ids) out.push_back(PeerId(id));
  return out;
}

Result<Graph> MakeConnectedTopology(const ProtocolConfig& config, int64_t n,
                                    uint64_t seed) {
  MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeTopology(config.topology, n, seed));
  if (n > 1 && !IsConnected(graph)) {
    return Status::InvalidArgument(
        "the topology over ", n,
        " peers is disconnected, so peers could never agree on a model");
  }
  for (int64_t i = 0; i < n; ++i) {
    if (n > 1 && graph.neighbours[i].empty()) {
      return Status::InvalidArgument("peer ", i, " has no neighbours");
    }
  }
  return graph;
}

bool Contains(const std::vector<PeerId>& sorted, PeerId peer) {
  return std::binary_search(sorted.begin(), sorted.end(), peer);
}

// The Byzantine peers of a run and the attack configuration they carry out
// (ALIE's z resolved from the number of peers and attackers).
Result<ByzantineConfig> ResolveByzantine(const ProtocolConfig& config, int64_t n,
                                         uint64_t seed, std::vector<PeerId>* byzantine) {
  ByzantineConfig attack = config.byzantine;
  MURMUR_ASSIGN_OR_RETURN(int64_t count, ByzantineCount(attack, n));
  if (count == 0) return attack;
  if (attack.attack == AttackKind::kEquivocation && config.kind == ProtocolKind::kFedAvg) {
    return Status::InvalidArgument(
        "byzantine.attack = \"equivocation\" needs several receivers: use protocol.kind = "
        "\"dpsgd\" or \"gossip\"");
  }
  if (attack.z == 0) attack.z = AlieZ(static_cast<int>(n), static_cast<int>(count));
  *byzantine = ChooseByzantinePeers(attack, n, seed);
  return attack;
}

}  // namespace

Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed) {
  const auto n = static_cast<int64_t>(learners.size());
  if (n < 1) return Status::InvalidArgument("a run needs at least one peer");
  ProtocolSetup setup;
  const Duration timeout = Duration::Seconds(config.round_timeout_s);
  MURMUR_ASSIGN_OR_RETURN(std::shared_ptr<const ModelCombiner> combiner,
                          ModelCombiner::Make(config.robust));
  MURMUR_ASSIGN_OR_RETURN(ByzantineConfig attack,
                          ResolveByzantine(config, n, seed, &setup.byzantine));
  switch (config.kind) {
    case ProtocolKind::kDpsgd: {
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      MixingWeights weights = MetropolisHastingsWeights(graph);
      DpsgdOptions options{.rounds = config.rounds,
                           .local_steps = config.local_steps,
                           .round_timeout = timeout};
      for (int64_t i = 0; i < n; ++i) {
        const PeerId peer(static_cast<uint32_t>(i));
        std::vector<PeerId> neighbours = ToPeerIds(graph.neighbours[i]);
        if (Contains(setup.byzantine, peer)) {
          std::vector<PeerId> honest;
          for (PeerId p : neighbours) {
            if (!Contains(setup.byzantine, p)) honest.push_back(p);
          }
          setup.nodes.push_back(std::make_unique<ByzantineDpsgdNode>(
              *learners[i], options, std::move(neighbours), std::move(honest), attack));
          continue;
        }
        setup.nodes.push_back(std::make_unique<DpsgdNode>(
            *learners[i], options, std::move(neighbours), weights.neighbour[i],
            weights.self[i], combiner));
        setup.model_holders.push_back(peer);
      }
      break;
    }
    case ProtocolKind::kGossip: {
      if (n < 2) return Status::InvalidArgument("gossip learning needs at least 2 peers");
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      GossipOptions options{.rounds = config.rounds,
                            .local_steps = config.local_steps,
                            .period = Duration::Seconds(config.gossip_period_s),
                            .window = static_cast<size_t>(config.gossip_window)};
      for (int64_t i = 0; i < n; ++i) {
        const PeerId peer(static_cast<uint32_t>(i));
        std::vector<PeerId> neighbours = ToPeerIds(graph.neighbours[i]);
        if (Contains(setup.byzantine, peer)) {
          std::vector<PeerId> honest;
          for (PeerId p : neighbours) {
            if (!Contains(setup.byzantine, p)) honest.push_back(p);
          }
          setup.nodes.push_back(std::make_unique<ByzantineGossipNode>(
              *learners[i], options, std::move(neighbours), std::move(honest), attack));
          continue;
        }
        setup.nodes.push_back(std::make_unique<GossipNode>(*learners[i], options,
                                                           std::move(neighbours), combiner));
        setup.model_holders.push_back(peer);
      }
      break;
    }
    case ProtocolKind::kFedAvg: {
      FedAvgOptions options{.rounds = config.rounds,
                            .client_fraction = config.client_fraction,
                            .local_epochs = config.local_epochs,
                            .round_timeout = timeout};
      const PeerId server(static_cast<uint32_t>(n));
      std::vector<PeerId> clients;
      auto coalition = std::make_shared<FedAvgCoalition>(attack);
      for (int64_t i = 0; i < n; ++i) {
        const PeerId peer(static_cast<uint32_t>(i));
        clients.push_back(peer);
        if (Contains(setup.byzantine, peer)) {
          setup.nodes.push_back(std::make_unique<ByzantineFedAvgClient>(
              *learners[i], options, server, attack, coalition));
        } else {
          setup.nodes.push_back(std::make_unique<FedAvgClient>(*learners[i], options, server));
        }
      }
      // The global model starts from the same initialization stream as
      // peer 0's learner, so a one-client run equals local training.
      std::vector<float> initial(static_cast<size_t>(model.num_params()));
      Rng init_rng(seed, PeerId(0), RngPurpose::kInit);
      model.Initialize(initial, init_rng);
      setup.nodes.push_back(std::make_unique<FedAvgServer>(std::move(initial), options,
                                                           std::move(clients), combiner));
      setup.model_holders.push_back(server);
      break;
    }
  }
  return setup;
}

}  // namespace murmur
