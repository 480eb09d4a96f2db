// The "modest" protocol spec (registry.h): MoDeST nodes (modest.h).
#include <algorithm>

#include "murmur/protocol/modest.h"
#include "protocol/spec_util.h"

namespace murmur {
namespace {

Result<std::any> ReadModest(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  ModestConfig c;
  MURMUR_ASSIGN_OR_RETURN(c.trainers, r.Int("protocol.modest_trainers", c.trainers, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.aggregators,
                          r.Int("protocol.modest_aggregators", c.aggregators, 1, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.success_fraction, r.Double("protocol.modest_success_fraction",
                                                       c.success_fraction, 1e-6, 1.0));
  MURMUR_ASSIGN_OR_RETURN(c.ping_timeout_s, r.Double("protocol.modest_ping_timeout_s",
                                                     c.ping_timeout_s, 1e-6, 1e9));
  return std::any(c);
}

Status PrepareModest(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const auto c = ProtocolOptionsAs<ModestConfig>(config);
  const int64_t n = run.num_peers;
  ModestOptions options{.rounds = config.rounds,
                        .local_steps = config.local_steps,
                        .num_peers = n,
                        .trainers = std::min(c.trainers, n),
                        .aggregators = std::min(c.aggregators, n),
                        .success_fraction = c.success_fraction,
                        .ping_timeout = Duration::Seconds(c.ping_timeout_s),
                        .round_timeout = Duration::Seconds(config.round_timeout_s),
                        .seed = run.seed};
  if (config.rounds >= (int64_t{1} << 22)) {
    return Status::InvalidArgument("MoDeST: protocol.rounds = ", config.rounds,
                                   " exceeds its limit of 2^22 - 1 rounds");
  }
  if (options.round_timeout.ns <= 0) {
    return Status::InvalidArgument(
        "MoDeST needs protocol.round_timeout_s > 0 to get past failed peers");
  }
  run.state = options;
  return Status::Ok();
}

Result<std::unique_ptr<Node>> MakeModestNode(const ProtocolRun& run, const PeerContext& peer) {
  return std::unique_ptr<Node>(
      std::make_unique<ModestNode>(*peer.learner, std::any_cast<const ModestOptions&>(run.state)));
}

}  // namespace

extern const ProtocolSpec kModestSpec;
const ProtocolSpec kModestSpec{
    .name = "modest",
    .default_options = [] { return std::any(ModestConfig{}); },
    .read_options = ReadModest,
    .has_server = [](const ProtocolConfig&) { return false; },
    .round_model = RoundModel::kFirstReport,
    .prepare = PrepareModest,
    .make_node = MakeModestNode,
};

}  // namespace murmur
