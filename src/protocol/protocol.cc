#include "murmur/protocol/protocol.h"

#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/fedavg.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/spsa.h"

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

// Shared-randomness protocols replicate one model: every learner starts
// from peer 0's parameters whatever train.init says.
Status MakeSpsaNodes(const ProtocolConfig& config, std::span<Learner* const> learners,
                     uint64_t seed, Duration timeout, ProtocolSetup& setup) {
  const auto n = static_cast<int64_t>(learners.size());
  const SpsaConfig& c = config.spsa;
  if (n >= (int64_t{1} << 31)) return Status::InvalidArgument("spsa: too many peers");
  if (config.rounds >= (int64_t{1} << 24)) {
    return Status::InvalidArgument("protocol.rounds = ", config.rounds,
                                   ": spsa keys perturbations by step, at most 2^24 - 1 steps");
  }
  for (int64_t i = 1; i < n; ++i) {
    std::span<const float> first = learners[0]->params();
    std::copy(first.begin(), first.end(), learners[i]->params().begin());
  }
  if (c.mode == SpsaConfig::Mode::kBroadcast) {
    SpsaOptions options{.rounds = config.rounds,
                        .num_peers = n,
                        .seed = seed,
                        .eps = static_cast<float>(c.eps),
                        .lr = c.lr,
                        .clip = c.clip,
                        .noise = c.noise,
                        .round_timeout = timeout};
    for (int64_t i = 0; i < n; ++i) {
      setup.nodes.push_back(std::make_unique<SpsaNode>(*learners[i], options));
      setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
    }
    return Status::Ok();
  }
  FedKSeedOptions options{.rounds = config.rounds,
                          .seed = seed,
                          .pool = static_cast<uint32_t>(c.seed_pool),
                          .local_steps = std::max<int64_t>(config.local_steps, 1),
                          .client_fraction = config.client_fraction,
                          .eps = static_cast<float>(c.eps),
                          .lr = c.lr,
                          .noise = c.noise,
                          .sampling = c.sampling,
                          .importance_alpha = c.importance_alpha,
                          .round_timeout = timeout};
  const PeerId server(static_cast<uint32_t>(n));
  std::vector<PeerId> clients;
  for (int64_t i = 0; i < n; ++i) {
    clients.push_back(PeerId(static_cast<uint32_t>(i)));
    setup.nodes.push_back(std::make_unique<FedKSeedClient>(*learners[i], options, server));
  }
  std::span<const float> initial = learners[0]->params();
  setup.nodes.push_back(std::make_unique<FedKSeedServer>(
      std::vector<float>(initial.begin(), initial.end()), options, std::move(clients)));
  setup.model_holders.push_back(server);
  return Status::Ok();
}

}  // namespace

Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed) {
  const auto n = static_cast<int64_t>(learners.size());
  if (n < 1) return Status::InvalidArgument("a run needs at least one peer");
  ProtocolSetup setup;
  const Duration timeout = Duration::Seconds(config.round_timeout_s);
  switch (config.kind) {
    case ProtocolKind::kDpsgd: {
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      MixingWeights weights = MetropolisHastingsWeights(graph);
      DpsgdOptions options{.rounds = config.rounds,
                           .local_steps = config.local_steps,
                           .round_timeout = timeout};
      for (int64_t i = 0; i < n; ++i) {
        setup.nodes.push_back(std::make_unique<DpsgdNode>(
            *learners[i], options, ToPeerIds(graph.neighbours[i]),
            weights.neighbour[i], weights.self[i]));
        setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
      }
      break;
    }
    case ProtocolKind::kGossip: {
      if (n < 2) return Status::InvalidArgument("gossip learning needs at least 2 peers");
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      GossipOptions options{.rounds = config.rounds,
                            .local_steps = config.local_steps,
                            .period = Duration::Seconds(config.gossip_period_s)};
      for (int64_t i = 0; i < n; ++i) {
        setup.nodes.push_back(std::make_unique<GossipNode>(
            *learners[i], options, ToPeerIds(graph.neighbours[i])));
        setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
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
      for (int64_t i = 0; i < n; ++i) {
        clients.push_back(PeerId(static_cast<uint32_t>(i)));
        setup.nodes.push_back(std::make_unique<FedAvgClient>(*learners[i], options, server));
      }
      // The global model starts as peer 0's learner (its initialization
      // stream, or model.init_checkpoint), so a one-client run equals local
      // training.
      std::span<const float> first = learners[0]->params();
      std::vector<float> initial(first.begin(), first.end());
      setup.nodes.push_back(std::make_unique<FedAvgServer>(std::move(initial), options,
                                                           std::move(clients)));
      setup.model_holders.push_back(server);
      break;
    }
    case ProtocolKind::kSpsa:
      MURMUR_RETURN_IF_ERROR(MakeSpsaNodes(config, learners, seed, timeout, setup));
      break;
  }
  return setup;
}

}  // namespace murmur
