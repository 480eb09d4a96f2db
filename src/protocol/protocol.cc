#include "murmur/protocol/protocol.h"

#include <algorithm>
#include <cstdint>

#include "murmur/protocol/bristle_combiner.h"
#include "murmur/protocol/byzantine_dpsgd.h"
#include "murmur/protocol/byzantine_fedavg.h"
#include "murmur/protocol/byzantine_gossip.h"
#include "murmur/protocol/choco.h"
#include "murmur/protocol/choco_gossip.h"
#include "murmur/protocol/dfedsam.h"
#include "murmur/protocol/dpsgd.h"
#include "murmur/protocol/epidemic.h"
#include "murmur/protocol/fedavg.h"
#include "protocol/federated_setup.h"
#include "murmur/protocol/gossip.h"
#include "murmur/protocol/modest.h"
#include "murmur/protocol/spsa.h"
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

bool SameInitialModel(std::span<Learner* const> learners) {
  std::span<const float> first = learners[0]->params();
  for (Learner* learner : learners) {
    std::span<const float> p = learner->params();
    if (!std::equal(p.begin(), p.end(), first.begin(), first.end())) return false;
  }
  return true;
}

// Uncompressed (disabled) unless a direction has a codec other than fp32 or
// error feedback is on, so default runs keep their exact bytes and results.
Result<FedAvgCompression> MakeFedAvgCompression(const ProtocolConfig& config, uint64_t seed) {
  const CompressConfig& c = config.compress;
  FedAvgCompression out;
  if (c.uplink == "fp32" && c.downlink == "fp32" &&
      c.error_feedback == ErrorFeedbackKind::kNone) {
    return out;
  }
  MURMUR_RETURN_IF_ERROR(CheckDownlinkSpec(c.downlink));
  MURMUR_ASSIGN_OR_RETURN(out.uplink, MakeCodec(c.uplink));
  MURMUR_ASSIGN_OR_RETURN(out.downlink, MakeCodec(c.downlink));
  out.uplink_stages = std::make_shared<const CodecStages>(*out.uplink, "bytes_up_stage_");
  out.downlink_stages = std::make_shared<const CodecStages>(*out.downlink, "bytes_down_stage_");
  out.error_feedback = c.error_feedback;
  out.econtrol_eta = static_cast<float>(c.econtrol_eta);
  out.seed = seed;
  return out;
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

// Robust rules and Byzantine peers exist for FedAvg, D-PSGD and gossip
// learning; the other protocols would silently ignore them.
Status CheckRobustSupport(const ProtocolConfig& config, const ModelCombiner& combiner,
                          const std::vector<PeerId>& byzantine) {
  const bool supported = config.kind == ProtocolKind::kFedAvg ||
                         config.kind == ProtocolKind::kDpsgd ||
                         config.kind == ProtocolKind::kGossip;
  if (!supported && !combiner.is_plain_average()) {
    return Status::InvalidArgument(
        "a [robust] rule other than the mean applies to protocol.kind = \"fedavg\", \"dpsgd\" "
        "or \"gossip\"; this protocol aggregates with its own rule");
  }
  if (combiner.sybilwall() != nullptr && config.kind != ProtocolKind::kDpsgd) {
    return Status::InvalidArgument(
        "robust.rule = \"sybilwall\" keeps update histories and gossips them between "
        "D-PSGD rounds: use protocol.kind = \"dpsgd\", or robust.rule = "
        "\"similarity-downweighting\" for its history-free score");
  }
  if (!supported && !byzantine.empty()) {
    return Status::InvalidArgument(
        "Byzantine peers ([byzantine]) are simulated for protocol.kind = \"fedavg\", \"dpsgd\" "
        "or \"gossip\" only");
  }
  if (config.kind == ProtocolKind::kFedAvg && !byzantine.empty() &&
      (config.compress.uplink != "fp32" || config.compress.downlink != "fp32" ||
       config.compress.error_feedback != ErrorFeedbackKind::kNone)) {
    return Status::InvalidArgument(
        "Byzantine FedAvg clients send uncompressed updates: drop the [compress] uplink, "
        "downlink and error_feedback settings, or the [byzantine] peers");
  }
  if (config.kind == ProtocolKind::kGossip && config.merge != MergeRule::kAverage &&
      !combiner.is_plain_average()) {
    return Status::InvalidArgument(
        "protocol.merge = \"variance_corrected\" and a [robust] rule both decide how gossip "
        "merges models: pick one");
  }
  return Status::Ok();
}

// Bristle evaluates received output layers on each peer's validation split
// on top of a body every peer shares, so only the output layer may train.
Status CheckBristleSupport(const ProtocolConfig& config, std::span<Learner* const> learners,
                           std::span<const Dataset* const> validation) {
  if (!config.exchange_output_layer) {
    return Status::InvalidArgument(
        "robust.rule = \"bristle\" exchanges and trains only the output layer: set "
        "train.trainable = \"output\" (and model.init_checkpoint to a pretrained body)");
  }
  if (validation.size() != learners.size()) {
    return Status::InvalidArgument(
        "robust.rule = \"bristle\" needs a validation split on every peer: set "
        "data.validation_fraction > 0");
  }
  return Status::Ok();
}

bool IsCompressedGossip(const ProtocolConfig& config) {
  return config.kind == ProtocolKind::kGossip && config.compress.codec != "fp32";
}

// Gossip learning with compress.codec set: per-edge CHOCO copies
// (choco_gossip.h), merging with step protocol.choco_gamma.
Status MakeCompressedGossipNodes(const ProtocolConfig& config, std::span<Learner* const> learners,
                                 const Graph& graph, uint64_t seed, const ModelCombiner& combiner,
                                 ProtocolSetup& setup) {
  if (!combiner.is_plain_average() || !setup.byzantine.empty() ||
      config.merge != MergeRule::kAverage) {
    return Status::InvalidArgument(
        "compressed gossip (protocol.kind = \"gossip\" with compress.codec = \"",
        config.compress.codec,
        "\") merges by its own step protocol.choco_gamma: drop the [robust] rule, the "
        "[byzantine] peers and protocol.merge, or set compress.codec = \"fp32\"");
  }
  MURMUR_ASSIGN_OR_RETURN(std::shared_ptr<const Codec> codec, MakeCodec(config.compress.codec));
  const ChocoGossipOptions options{.rounds = config.rounds,
                                   .local_steps = config.local_steps,
                                   .period = Duration::Seconds(config.gossip_period_s),
                                   .gamma = config.choco_gamma,
                                   .seed = seed,
                                   .shared_initial_model = SameInitialModel(learners)};
  for (size_t i = 0; i < learners.size(); ++i) {
    setup.nodes.push_back(std::make_unique<ChocoGossipNode>(*learners[i], options, codec,
                                                            ToPeerIds(graph.neighbours[i])));
    setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
  }
  return Status::Ok();
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

bool HasServer(const ProtocolConfig& config) {
  switch (config.kind) {
    case ProtocolKind::kFedAvg:
    case ProtocolKind::kFedProx:
    case ProtocolKind::kFedAsync:
    case ProtocolKind::kFedBuff:
    case ProtocolKind::kFedCompass:
      return true;
    case ProtocolKind::kSpsa:
      return config.spsa.mode == SpsaConfig::Mode::kFedKSeed;
    case ProtocolKind::kDpsgd:
    case ProtocolKind::kGossip:
    case ProtocolKind::kChoco:
    case ProtocolKind::kModest:
    case ProtocolKind::kEpidemic:
    case ProtocolKind::kDfedsam:
      return false;
  }
  return false;
}

Result<ProtocolSetup> MakeProtocol(const ProtocolConfig& config,
                                   std::span<Learner* const> learners,
                                   const Model& model, uint64_t seed,
                                   std::span<const Dataset* const> validation) {
  const auto n = static_cast<int64_t>(learners.size());
  if (n < 1) return Status::InvalidArgument("a run needs at least one peer");
  ProtocolSetup setup;
  const Duration timeout = Duration::Seconds(config.round_timeout_s);
  // Bristle replaces the span rule: the combiner keeps the plain average,
  // which Bristle peers never use.
  const bool bristle = config.robust.rule == kBristleRule;
  BristleOptions bristle_options;
  if (bristle) {
    MURMUR_ASSIGN_OR_RETURN(bristle_options, BristleOptionsFrom(config.robust));
    MURMUR_RETURN_IF_ERROR(CheckBristleSupport(config, learners, validation));
  }
  if ((config.exchange_output_layer || bristle) && config.kind != ProtocolKind::kDpsgd) {
    return Status::InvalidArgument(
        "exchanging only the output layer (train.trainable = \"output\", robust.rule = "
        "\"bristle\") is implemented for protocol.kind = \"dpsgd\"");
  }
  MURMUR_ASSIGN_OR_RETURN(
      std::shared_ptr<const ModelCombiner> combiner,
      ModelCombiner::Make(bristle ? AggregatorConfig{.f = config.robust.f} : config.robust));
  MURMUR_ASSIGN_OR_RETURN(ByzantineConfig attack,
                          ResolveByzantine(config, n, seed, &setup.byzantine));
  MURMUR_RETURN_IF_ERROR(CheckRobustSupport(config, *combiner, setup.byzantine));
  switch (config.kind) {
    case ProtocolKind::kDpsgd: {
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      MixingWeights weights = MetropolisHastingsWeights(graph);
      DpsgdOptions options{.rounds = config.rounds,
                           .local_steps = config.local_steps,
                           .round_timeout = timeout,
                           .schedule = config.comm_schedule,
                           .comm_budget = config.comm_budget,
                           .final_merge = config.final_merge,
                           .num_peers = n};
      // Sybil identities are one adversary: they share a coalition.
      const auto coalition = attack.attack == AttackKind::kSybil
                                 ? std::make_shared<DpsgdSybilCoalition>()
                                 : nullptr;
      if (config.exchange_output_layer) {
        const OutputLayer layer = OutputLayerOf(model);
        options.exchange_offset = layer.offset;
        options.exchange_size = layer.size();
      }
      for (int64_t i = 0; i < n; ++i) {
        const PeerId peer(static_cast<uint32_t>(i));
        std::vector<PeerId> neighbours = ToPeerIds(graph.neighbours[i]);
        if (Contains(setup.byzantine, peer)) {
          std::vector<PeerId> honest;
          for (PeerId p : neighbours) {
            if (!Contains(setup.byzantine, p)) honest.push_back(p);
          }
          setup.nodes.push_back(std::make_unique<ByzantineDpsgdNode>(
              *learners[i], options, std::move(neighbours), std::move(honest), attack,
              coalition));
          continue;
        }
        std::unique_ptr<const BristleCombiner> peer_bristle;
        if (bristle) {
          if (validation[i] == nullptr || validation[i]->size() == 0) {
            return Status::InvalidArgument("robust.rule = \"bristle\": peer ", i,
                                           " has no validation samples; raise "
                                           "data.validation_fraction");
          }
          peer_bristle =
              std::make_unique<BristleCombiner>(model, *validation[i], bristle_options);
        }
        setup.nodes.push_back(std::make_unique<DpsgdNode>(
            *learners[i], options, std::move(neighbours), weights.neighbour[i],
            weights.self[i], combiner, std::move(peer_bristle)));
        setup.model_holders.push_back(peer);
      }
      break;
    }
    case ProtocolKind::kGossip: {
      if (n < 2) return Status::InvalidArgument("gossip learning needs at least 2 peers");
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      if (IsCompressedGossip(config)) {
        MURMUR_RETURN_IF_ERROR(MakeCompressedGossipNodes(config, learners, graph, seed, *combiner,
                                                         setup));
        break;
      }
      GossipOptions options{.rounds = config.rounds,
                            .local_steps = config.local_steps,
                            .period = Duration::Seconds(config.gossip_period_s),
                            .merge = config.merge,
                            .tensors = model.tensors(),
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
    case ProtocolKind::kDfedsam: {
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      if (config.rounds * config.gossip_steps > int64_t{UINT32_MAX}) {
        return Status::InvalidArgument("DFedSAM: protocol.rounds x protocol.gossip_steps = ",
                                       config.rounds * config.gossip_steps,
                                       " gossip steps do not fit the 32-bit step counter");
      }
      MixingWeights weights = MetropolisHastingsWeights(graph);
      DfedsamOptions options{.rounds = config.rounds,
                             .local_steps = config.local_steps,
                             .gossip_steps = config.gossip_steps,
                             .round_timeout = timeout};
      for (int64_t i = 0; i < n; ++i) {
        setup.nodes.push_back(std::make_unique<DfedsamNode>(
            *learners[i], options, ToPeerIds(graph.neighbours[i]), weights.neighbour[i],
            weights.self[i]));
        setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
      }
      break;
    }
    case ProtocolKind::kModest: {
      ModestOptions options{.rounds = config.rounds,
                            .local_steps = config.local_steps,
                            .num_peers = n,
                            .trainers = std::min(config.modest_trainers, n),
                            .aggregators = std::min(config.modest_aggregators, n),
                            .success_fraction = config.modest_success_fraction,
                            .ping_timeout = Duration::Seconds(config.modest_ping_timeout_s),
                            .round_timeout = timeout,
                            .seed = seed};
      if (config.rounds >= (int64_t{1} << 22)) {
        return Status::InvalidArgument("MoDeST: protocol.rounds = ", config.rounds,
                                       " exceeds its limit of 2^22 - 1 rounds");
      }
      if (options.round_timeout.ns <= 0) {
        return Status::InvalidArgument(
            "MoDeST needs protocol.round_timeout_s > 0 to get past failed peers");
      }
      for (int64_t i = 0; i < n; ++i) {
        setup.nodes.push_back(std::make_unique<ModestNode>(*learners[i], options));
        setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
      }
      setup.round_model = RoundModel::kFirstReport;
      break;
    }
    case ProtocolKind::kEpidemic: {
      if (config.epidemic_fanout >= n) {
        return Status::InvalidArgument("Epidemic Learning: protocol.epidemic_fanout = ",
                                       config.epidemic_fanout, " needs more than that many peers (",
                                       n, ")");
      }
      if (config.rounds >= (int64_t{1} << 24)) {
        return Status::InvalidArgument("Epidemic Learning: protocol.rounds = ", config.rounds,
                                       " exceeds its limit of 2^24 - 1 rounds");
      }
      EpidemicOptions options{.rounds = config.rounds,
                              .local_steps = config.local_steps,
                              .fanout = config.epidemic_fanout,
                              .num_peers = n,
                              .round_timeout = timeout,
                              .seed = seed};
      for (int64_t i = 0; i < n; ++i) {
        setup.nodes.push_back(std::make_unique<EpidemicNode>(*learners[i], options));
        setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
      }
      break;
    }
    case ProtocolKind::kChoco: {
      MURMUR_ASSIGN_OR_RETURN(Graph graph, MakeConnectedTopology(config, n, seed));
      MixingWeights weights = MetropolisHastingsWeights(graph);
      MURMUR_ASSIGN_OR_RETURN(std::shared_ptr<const Codec> codec,
                              MakeCodec(config.compress.codec));
      ChocoOptions options{.rounds = config.rounds,
                           .local_steps = config.local_steps,
                           .gamma = config.choco_gamma,
                           .round_timeout = timeout,
                           .seed = seed,
                           .public_start = SameInitialModel(learners)
                                               ? ChocoPublicStart::kSharedInitialModel
                                               : ChocoPublicStart::kZero};
      for (int64_t i = 0; i < n; ++i) {
        setup.nodes.push_back(std::make_unique<ChocoNode>(
            *learners[i], options, codec, ToPeerIds(graph.neighbours[i]),
            weights.neighbour[i]));
        setup.model_holders.push_back(PeerId(static_cast<uint32_t>(i)));
      }
      break;
    }
    case ProtocolKind::kFedAvg: {
      FedAvgOptions options{.rounds = config.rounds,
                            .client_fraction = config.client_fraction,
                            .local_epochs = config.local_epochs,
                            .round_timeout = timeout,
                            .server_optimizer = config.server_optimizer};
      MURMUR_ASSIGN_OR_RETURN(options.compression, MakeFedAvgCompression(config, seed));
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
      // The global model starts as peer 0's learner (its initialization
      // stream, or model.init_checkpoint), so a one-client run equals local
      // training.
      std::span<const float> first = learners[0]->params();
      std::vector<float> initial(first.begin(), first.end());
      setup.nodes.push_back(std::make_unique<FedAvgServer>(std::move(initial), options,
                                                           std::move(clients), combiner));
      setup.model_holders.push_back(server);
      break;
    }
    case ProtocolKind::kSpsa:
      MURMUR_RETURN_IF_ERROR(MakeSpsaNodes(config, learners, seed, timeout, setup));
      break;
    case ProtocolKind::kFedProx:
    case ProtocolKind::kFedAsync:
    case ProtocolKind::kFedBuff:
    case ProtocolKind::kFedCompass:
      MURMUR_ASSIGN_OR_RETURN(setup, MakeFederatedProtocol(config, learners, model, seed));
      break;
  }
  if (HasServer(config)) {
    MURMUR_CHECK(setup.nodes.size() == learners.size() + 1);
    setup.server = PeerId(static_cast<uint32_t>(learners.size()));
  }
  return setup;
}

}  // namespace murmur
