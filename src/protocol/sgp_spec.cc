// The "sgp" protocol spec (registry.h): Stochastic Gradient Push nodes
// (sgp.h) on the time-varying directed exponential graph.
#include "murmur/protocol/sgp.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

Result<std::any> ReadSgp(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  SgpConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.out_peers, r.Int("protocol.sgp_out_peers", c.out_peers, 0, 62));
  return std::any(c);
}

// What every SGP peer of a run shares.
struct SgpRunState {
  SgpOptions options;
  int64_t out_peers = 1;
};

Status PrepareSgp(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<SgpConfig>(config);
  const int64_t hops = ExponentialGraphHops(run.num_peers);
  if (c.out_peers > hops) {
    return Status::InvalidArgument("SGP: protocol.sgp_out_peers = ", c.out_peers, " but the ",
                                   "exponential graph over ", run.num_peers, " peers has ", hops,
                                   " distinct hops; set protocol.sgp_out_peers <= ", hops);
  }
  auto state = std::make_shared<SgpRunState>();
  state->options = SgpOptions{.rounds = config.rounds,
                              .local_steps = config.local_steps,
                              .round_timeout = Duration::Seconds(config.round_timeout_s),
                              .num_peers = run.num_peers,
                              .catch_up_gap = hops + 2};
  state->out_peers = c.out_peers;
  run.state = std::shared_ptr<const SgpRunState>(std::move(state));
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeSgpNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const SgpRunState>&>(run.state);
  SgpSchedule schedule = [self = peer.id, n = run.num_peers,
                          k = state.out_peers](Round round) {
    return SgpRoundPeers{.out = ExponentialOutPeers(self, n, k, round),
                         .in = ExponentialInPeers(self, n, k, round)};
  };
  return std::unique_ptr<Node>(
      std::make_unique<SgpNode>(*peer.learner, state.options, std::move(schedule)));
}

}  // namespace

extern const ProtocolSpec kSgpSpec;
const ProtocolSpec kSgpSpec{
    .name = "sgp",
    .default_options = [] { return std::any(SgpConfig{}); },
    .read_options = ReadSgp,
    .has_server = [](const ProtocolConfig&) { return false; },
    .prepare = PrepareSgp,
    .make_node = MakeSgpNode,
    // No runtime persistence (--persist-every refused): a restarted peer
    // catches up from its in-peers' shares instead (sgp.h), and resuming a
    // saved x and w would put back mass the others moved on without.
    // Snapshots (`murmur run --resume`) are of every peer at one instant
    // and keep the mass.
};

}  // namespace murmur
