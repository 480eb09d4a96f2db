// The "choco" protocol spec (registry.h): CHOCO-SGD nodes (choco.h).
#include "murmur/compress/codec.h"
#include "murmur/protocol/choco.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

struct ChocoRunState {
  Graph graph;
  MixingWeights weights;
  std::shared_ptr<const Codec> codec;
  ChocoOptions options;
};

Result<std::any> ReadChoco(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  ChocoConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.topology, ReadTopologyConfig(r));
  MURMUR_ASSIGN_OR_RETURN(c.gamma, r.Double("protocol.choco_gamma", c.gamma, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.codec, ReadCodecKey(r, "compress.codec"));
  return std::any(c);
}

Status PrepareChoco(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<ChocoConfig>(config);
  auto state = std::make_shared<ChocoRunState>();
  MURMUR_ASSIGN_OR_RETURN(state->graph,
                          MakeConnectedTopology(c.topology, run.num_peers, run.seed));
  state->weights = MetropolisHastingsWeights(state->graph);
  MURMUR_ASSIGN_OR_RETURN(state->codec, MakeCodec(c.codec));
  state->options = ChocoOptions{.rounds = config.rounds,
                                .local_steps = config.local_steps,
                                .gamma = c.gamma,
                                .round_timeout = Duration::Seconds(config.round_timeout_s),
                                .seed = run.seed,
                                .public_start = run.shared_initial_model
                                                    ? ChocoPublicStart::kSharedInitialModel
                                                    : ChocoPublicStart::kZero};
  run.state = std::shared_ptr<const ChocoRunState>(std::move(state));
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeChocoNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const ChocoRunState>&>(run.state);
  const size_t i = peer.id.value;
  return std::unique_ptr<Node>(std::make_unique<ChocoNode>(
      *peer.learner, state.options, state.codec, ToPeerIds(state.graph.neighbours[i]),
      state.weights.neighbour[i]));
}

}  // namespace

extern const ProtocolSpec kChocoSpec;
const ProtocolSpec kChocoSpec{
    .name = "choco",
    .default_options = [] { return std::any(ChocoConfig{}); },
    .read_options = ReadChoco,
    .has_server = [](const ProtocolConfig&) { return false; },
    .prepare = PrepareChoco,
    .make_node = MakeChocoNode,
};

}  // namespace murmur
