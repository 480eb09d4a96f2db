// The "gossip" protocol spec (registry.h): gossip learning (gossip.h), its
// Byzantine peers (byzantine_gossip.h), and with compress.codec set the
// compressed variant (choco_gossip.h).
#include "murmur/compress/codec.h"
#include "murmur/protocol/byzantine_gossip.h"
#include "murmur/protocol/choco_gossip.h"
#include "murmur/protocol/gossip.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

struct GossipRunState {
  Graph graph;
  GossipOptions options;
  // Compressed gossip only (codec != "fp32").
  std::shared_ptr<const Codec> codec;
  ChocoGossipOptions choco;
};

Result<std::any> ReadGossip(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  GossipConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.topology, ReadTopologyConfig(r));
  MURMUR_ASSIGN_OR_RETURN(c.period_s, r.Double("protocol.gossip_period_s", c.period_s, 1e-6, 1e9));
  MURMUR_ASSIGN_OR_RETURN(std::string merge,
                          r.String("protocol.merge", "average", {"average", "variance_corrected"}));
  c.merge = merge == "variance_corrected" ? MergeRule::kVarianceCorrected : MergeRule::kAverage;
  MURMUR_ASSIGN_OR_RETURN(c.choco_gamma,
                          r.Double("protocol.choco_gamma", c.choco_gamma, 1e-9, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.codec, ReadCodecKey(r, "compress.codec"));
  return std::any(c);
}

Status PrepareGossip(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<GossipConfig>(config);
  if (run.num_peers < 2) return Status::InvalidArgument("gossip learning needs at least 2 peers");
  auto state = std::make_shared<GossipRunState>();
  MURMUR_ASSIGN_OR_RETURN(state->graph,
                          MakeConnectedTopology(c.topology, run.num_peers, run.seed));
  if (c.merge != MergeRule::kAverage && !run.combiner->is_plain_average()) {
    return Status::InvalidArgument(
        "protocol.merge = \"variance_corrected\" and a [robust] rule both decide how gossip "
        "merges models: pick one");
  }
  if (c.codec != "fp32" && config.privacy.enabled()) {
    return Status::InvalidArgument(
        "[privacy] noises whole gossiped models; compressed gossip (compress.codec = \"",
        c.codec, "\") sends CHOCO differences: set compress.codec = \"fp32\" or "
        "privacy.mode = \"none\"");
  }
  if (c.codec != "fp32") {
    // Per-edge CHOCO copies merging with step protocol.choco_gamma.
    if (!run.combiner->is_plain_average() || !run.byzantine.empty() ||
        c.merge != MergeRule::kAverage) {
      return Status::InvalidArgument(
          "compressed gossip (protocol.kind = \"gossip\" with compress.codec = \"", c.codec,
          "\") merges by its own step protocol.choco_gamma: drop the [robust] rule, the "
          "[byzantine] peers and protocol.merge, or set compress.codec = \"fp32\"");
    }
    MURMUR_ASSIGN_OR_RETURN(state->codec, MakeCodec(c.codec));
    state->choco = ChocoGossipOptions{.rounds = config.rounds,
                                      .local_steps = config.local_steps,
                                      .period = Duration::Seconds(c.period_s),
                                      .gamma = c.choco_gamma,
                                      .seed = run.seed,
                                      .shared_initial_model = run.shared_initial_model};
  }
  state->options = GossipOptions{.rounds = config.rounds,
                                 .local_steps = config.local_steps,
                                 .period = Duration::Seconds(c.period_s),
                                 .merge = c.merge,
                                 .tensors = run.model->tensors(),
                                 .window = static_cast<size_t>(config.gossip_window),
                                 .dp = config.privacy};
  run.state = std::shared_ptr<const GossipRunState>(std::move(state));
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeGossipNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const GossipRunState>&>(run.state);
  std::vector<PeerId> neighbours = ToPeerIds(state.graph.neighbours[peer.id.value]);
  if (state.codec != nullptr) {
    return std::unique_ptr<Node>(std::make_unique<ChocoGossipNode>(
        *peer.learner, state.choco, state.codec, std::move(neighbours)));
  }
  if (Contains(run.byzantine, peer.id)) {
    std::vector<PeerId> honest;
    for (PeerId p : neighbours) {
      if (!Contains(run.byzantine, p)) honest.push_back(p);
    }
    return std::unique_ptr<Node>(std::make_unique<ByzantineGossipNode>(
        *peer.learner, state.options, std::move(neighbours), std::move(honest), run.attack));
  }
  return std::unique_ptr<Node>(std::make_unique<GossipNode>(*peer.learner, state.options,
                                                            std::move(neighbours), run.combiner));
}

// A gossip peer aggregates its own model with the last robust.gossip_window
// models it received, one per sender, so from at most its neighbours.
// The topology is rebuilt from the seed (PrepareGossip builds the same one),
// so that a config alone suffices (registry.h).
Result<AggregationSize> GossipAggregationSize(const ProtocolRun& run) {
  const TopologyConfig topology = ProtocolOptionsAs<GossipConfig>(*run.config).topology;
  MURMUR_ASSIGN_OR_RETURN(const Graph graph,
                          MakeConnectedTopology(topology, run.num_peers, run.seed));
  return SmallestNeighbourhood(run, graph, topology, run.config->gossip_window,
                               "robust.gossip_window");
}

}  // namespace

extern const ProtocolSpec kGossipSpec;
const ProtocolSpec kGossipSpec{
    .name = "gossip",
    .default_options = [] { return std::any(GossipConfig{}); },
    .read_options = ReadGossip,
    .has_server = [](const ProtocolConfig&) { return false; },
    .robust = RobustSupport::kRules,
    .waits_for_rounds = false,
    // One push per cycle, every cycle: q = 1, a step per round.
    .dp_sampling_rate = [](const ProtocolConfig&, int64_t) { return 1.0; },
    .prepare = PrepareGossip,
    .make_node = MakeGossipNode,
    .aggregation_size = GossipAggregationSize,
    // By snapshot (GossipNode::persist_mode).
    .persistable = AlwaysPersistable,
};

}  // namespace murmur
