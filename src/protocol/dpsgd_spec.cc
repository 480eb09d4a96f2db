// The "dpsgd" protocol spec (registry.h): D-PSGD nodes (dpsgd.h), Byzantine
// D-PSGD peers (byzantine_dpsgd.h) and Bristle (bristle_combiner.h).
#include "murmur/protocol/bristle_combiner.h"
#include "murmur/protocol/byzantine_dpsgd.h"
#include "murmur/protocol/dpsgd.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

// What every D-PSGD peer of a run shares.
struct DpsgdRunState {
  Graph graph;
  MixingWeights weights;
  DpsgdOptions options;
  std::shared_ptr<DpsgdSybilCoalition> coalition;  // sybil identities: one adversary
  std::optional<BristleOptions> bristle;
};

Result<std::any> ReadDpsgd(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  DpsgdConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.topology, ReadTopologyConfig(r));
  MURMUR_ASSIGN_OR_RETURN(std::string schedule,
                          r.String("protocol.comm_schedule", "every_round", {"every_round", "late"}));
  c.comm_schedule = schedule == "late" ? CommSchedule::kLate : CommSchedule::kEveryRound;
  MURMUR_ASSIGN_OR_RETURN(c.comm_budget,
                          r.Int("protocol.comm_budget", c.comm_budget, 0, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.final_merge, r.Bool("protocol.final_merge", c.final_merge));
  if (c.comm_schedule == CommSchedule::kLate && c.comm_budget == 0 && !c.final_merge) {
    return Status::InvalidArgument(
        "protocol.comm_schedule = \"late\" with protocol.comm_budget = 0 and no "
        "protocol.final_merge never communicates: set protocol.comm_budget > 0");
  }
  return std::any(c);
}

Status PrepareDpsgd(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<DpsgdConfig>(config);
  auto state = std::make_shared<DpsgdRunState>();
  MURMUR_ASSIGN_OR_RETURN(state->graph,
                          MakeConnectedTopology(c.topology, run.num_peers, run.seed));
  state->weights = MetropolisHastingsWeights(state->graph);
  state->options = DpsgdOptions{.rounds = config.rounds,
                                .local_steps = config.local_steps,
                                .round_timeout = Duration::Seconds(config.round_timeout_s),
                                .schedule = c.comm_schedule,
                                .comm_budget = c.comm_budget,
                                .final_merge = c.final_merge,
                                .num_peers = run.num_peers,
                                .dp = config.privacy};
  if (config.exchange_output_layer) {
    const OutputLayer layer = OutputLayerOf(*run.model);
    state->options.exchange_offset = layer.offset;
    state->options.exchange_size = layer.size();
  }
  if (run.attack.attack == AttackKind::kSybil) {
    state->coalition = std::make_shared<DpsgdSybilCoalition>();
  }
  if (config.robust.rule == kBristleRule) {
    MURMUR_ASSIGN_OR_RETURN(state->bristle, BristleOptionsFrom(config.robust));
  }
  run.state = std::shared_ptr<const DpsgdRunState>(std::move(state));
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeDpsgdNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const DpsgdRunState>&>(run.state);
  const size_t i = peer.id.value;
  std::vector<PeerId> neighbours = ToPeerIds(state.graph.neighbours[i]);
  if (Contains(run.byzantine, peer.id)) {
    if (peer.start_round.value > 0) {
      return Status::InvalidArgument("a Byzantine D-PSGD peer cannot resume from a persisted "
                                     "state (its attack state is not saved)");
    }
    std::vector<PeerId> honest;
    for (PeerId p : neighbours) {
      if (!Contains(run.byzantine, p)) honest.push_back(p);
    }
    return std::unique_ptr<Node>(std::make_unique<ByzantineDpsgdNode>(
        *peer.learner, state.options, std::move(neighbours), std::move(honest), run.attack,
        state.coalition));
  }
  std::unique_ptr<const BristleCombiner> bristle;
  if (state.bristle) {
    if (peer.validation == nullptr || peer.validation->size() == 0) {
      return Status::InvalidArgument("robust.rule = \"bristle\": peer ", peer.id.value,
                                     " has no validation samples; raise "
                                     "data.validation_fraction");
    }
    bristle = std::make_unique<BristleCombiner>(*run.model, *peer.validation, *state.bristle);
  }
  DpsgdOptions options = state.options;
  MURMUR_RETURN_IF_ERROR(ResumeByRound(peer, options));
  return std::unique_ptr<Node>(std::make_unique<DpsgdNode>(
      *peer.learner, options, std::move(neighbours), state.weights.neighbour[i],
      state.weights.self[i], run.combiner, std::move(bristle)));
}

// A D-PSGD peer aggregates its neighbours' models and its own every round.
// The topology is rebuilt from the seed (PrepareDpsgd builds the same one),
// so that a config alone suffices (registry.h).
Result<AggregationSize> DpsgdAggregationSize(const ProtocolRun& run) {
  const TopologyConfig topology = ProtocolOptionsAs<DpsgdConfig>(*run.config).topology;
  MURMUR_ASSIGN_OR_RETURN(const Graph graph,
                          MakeConnectedTopology(topology, run.num_peers, run.seed));
  return SmallestNeighbourhood(run, graph, topology, graph.size(), "");
}

}  // namespace

extern const ProtocolSpec kDpsgdSpec;
const ProtocolSpec kDpsgdSpec{
    .name = "dpsgd",
    .default_options = [] { return std::any(DpsgdConfig{}); },
    .read_options = ReadDpsgd,
    .has_server = [](const ProtocolConfig&) { return false; },
    .robust = RobustSupport::kSybilWall,
    .exchanges_output_layer = true,
    // At most one release per round (local-only rounds send none): q = 1.
    .dp_sampling_rate = [](const ProtocolConfig&, int64_t) { return 1.0; },
    .prepare = PrepareDpsgd,
    .make_node = MakeDpsgdNode,
    .aggregation_size = DpsgdAggregationSize,
    // By round (DpsgdNode::persist_mode).
    .persistable = AlwaysPersistable,
};

}  // namespace murmur
