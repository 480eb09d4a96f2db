// The "epidemic" protocol spec (registry.h): Epidemic Learning (epidemic.h).
#include "murmur/protocol/epidemic.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

Result<std::any> ReadEpidemic(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  EpidemicConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.fanout, r.Int("protocol.epidemic_fanout", c.fanout, 1, 1'000'000));
  return std::any(c);
}

Status PrepareEpidemic(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<EpidemicConfig>(config);
  if (c.fanout >= run.num_peers) {
    return Status::InvalidArgument("Epidemic Learning: protocol.epidemic_fanout = ", c.fanout,
                                   " needs more than that many peers (", run.num_peers, ")");
  }
  if (config.rounds >= (int64_t{1} << 24)) {
    return Status::InvalidArgument("Epidemic Learning: protocol.rounds = ", config.rounds,
                                   " exceeds its limit of 2^24 - 1 rounds");
  }
  run.state = EpidemicOptions{.rounds = config.rounds,
                              .local_steps = config.local_steps,
                              .fanout = c.fanout,
                              .num_peers = run.num_peers,
                              .round_timeout = Duration::Seconds(config.round_timeout_s),
                              .seed = run.seed};
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeEpidemicNode(const ProtocolRun& run, const PeerContext& peer) {
  EpidemicOptions options = std::any_cast<const EpidemicOptions&>(run.state);
  MURMUR_RETURN_IF_ERROR(ResumeByRound(peer, options));
  return std::unique_ptr<Node>(std::make_unique<EpidemicNode>(*peer.learner, options));
}

}  // namespace

extern const ProtocolSpec kEpidemicSpec;
const ProtocolSpec kEpidemicSpec{
    .name = "epidemic",
    .default_options = [] { return std::any(EpidemicConfig{}); },
    .read_options = ReadEpidemic,
    .has_server = [](const ProtocolConfig&) { return false; },
    .prepare = PrepareEpidemic,
    .make_node = MakeEpidemicNode,
    // By round (EpidemicNode::persist_mode).
    .persistable = PersistableWithRoundTimeout,
};

}  // namespace murmur
