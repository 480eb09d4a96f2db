// The "dfedsam" protocol spec (registry.h): DFedSAM nodes (dfedsam.h).
#include "murmur/protocol/dfedsam.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

struct DfedsamRunState {
  Graph graph;
  MixingWeights weights;
  DfedsamOptions options;
};

Result<std::any> ReadDfedsam(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  DfedsamConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.topology, ReadTopologyConfig(r));
  MURMUR_ASSIGN_OR_RETURN(c.gossip_steps,
                          r.Int("protocol.gossip_steps", c.gossip_steps, 1, 1'000'000));
  // Its local steps are sharpness-aware: train.sam_rho (read with [train]).
  MURMUR_ASSIGN_OR_RETURN(double sam_rho, r.Double("train.sam_rho", 0, 0, 1e3));
  if (sam_rho == 0) {
    return Status::InvalidArgument(
        "protocol.kind = \"dfedsam\" takes sharpness-aware steps: set train.sam_rho > 0 "
        "(the paper uses values around 0.01-0.1)");
  }
  return std::any(c);
}

Status PrepareDfedsam(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<DfedsamConfig>(config);
  auto state = std::make_shared<DfedsamRunState>();
  MURMUR_ASSIGN_OR_RETURN(state->graph,
                          MakeConnectedTopology(c.topology, run.num_peers, run.seed));
  if (config.rounds * c.gossip_steps > int64_t{UINT32_MAX}) {
    return Status::InvalidArgument("DFedSAM: protocol.rounds x protocol.gossip_steps = ",
                                   config.rounds * c.gossip_steps,
                                   " gossip steps do not fit the 32-bit step counter");
  }
  state->weights = MetropolisHastingsWeights(state->graph);
  state->options = DfedsamOptions{.rounds = config.rounds,
                                  .local_steps = config.local_steps,
                                  .gossip_steps = c.gossip_steps,
                                  .round_timeout = Duration::Seconds(config.round_timeout_s)};
  run.state = std::shared_ptr<const DfedsamRunState>(std::move(state));
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeDfedsamNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const DfedsamRunState>&>(run.state);
  const size_t i = peer.id.value;
  DfedsamOptions options = state.options;
  MURMUR_RETURN_IF_ERROR(ResumeByRound(peer, options));
  return std::unique_ptr<Node>(std::make_unique<DfedsamNode>(
      *peer.learner, options, ToPeerIds(state.graph.neighbours[i]),
      state.weights.neighbour[i], state.weights.self[i]));
}

}  // namespace

extern const ProtocolSpec kDfedsamSpec;
const ProtocolSpec kDfedsamSpec{
    .name = "dfedsam",
    .default_options = [] { return std::any(DfedsamConfig{}); },
    .read_options = ReadDfedsam,
    .has_server = [](const ProtocolConfig&) { return false; },
    .prepare = PrepareDfedsam,
    .make_node = MakeDfedsamNode,
    // By round (DfedsamNode::persist_mode).
    .persistable = PersistableWithRoundTimeout,
};

}  // namespace murmur
