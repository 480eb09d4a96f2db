// The "diloco" protocol spec (registry.h): DiLoCo over the collective layer
// (diloco.h).
#include "protocol/diloco_spec.h"

#include "protocol/spec_util.h"

namespace murmur {
namespace {

Result<std::any> ReadDiloco(ConfigReader& r, const ProtocolConfig& /*shared*/) {
  DilocoConfig c;
  MURMUR_RETURN_IF_ERROR(ReadDilocoKeys(r, c));
  return std::any(c);
}

struct DilocoRunState {
  DilocoOptions options;
};

}  // namespace

Status ReadDilocoKeys(ConfigReader& r, DilocoConfig& c) {
  MURMUR_ASSIGN_OR_RETURN(c.outer_lr, r.Double("diloco.outer_lr", c.outer_lr, 0, 1e3));
  MURMUR_ASSIGN_OR_RETURN(c.outer_momentum,
                          r.Double("diloco.outer_momentum", c.outer_momentum, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(c.nesterov, r.Bool("diloco.nesterov", c.nesterov));
  MURMUR_ASSIGN_OR_RETURN(c.check_state, r.Bool("diloco.check_state", c.check_state));
  MURMUR_ASSIGN_OR_RETURN(c.delayed, r.Bool("diloco.delayed", c.delayed));
  // The upper bound (peers - 1) needs the run's peers: DilocoCollectiveOptions.
  MURMUR_ASSIGN_OR_RETURN(c.evicted_notices,
                          r.Int("diloco.evicted_notices", c.evicted_notices, 1, UINT32_MAX));
  return Status::Ok();
}

Result<collective::CollectiveOptions> DilocoCollectiveOptions(const ProtocolConfig& config,
                                                              const DilocoConfig& outer,
                                                              int64_t num_peers) {
  if (config.round_timeout_s <= 0) {
    return Status::InvalidArgument(
        "protocol.kind = \"", config.kind, "\" needs protocol.round_timeout_s > 0: it is how ",
        "long a collective waits without progress before it declares a peer lost (set it "
        "above the spread of the peers' local-training times, e.g. 10)");
  }
  if (outer.evicted_notices > 1 && outer.evicted_notices > num_peers - 1) {
    return Status::InvalidArgument(
        "diloco.evicted_notices = ", outer.evicted_notices, " exceeds peers - 1 = ",
        num_peers - 1, ": a member hears Evicted notices only from the other peers, so it "
        "could never be evicted (use f + 1 <= ", num_peers - 1, " to tolerate f Byzantine "
        "insiders, or 1)");
  }
  return collective::CollectiveOptions{
      .timeout = Duration::Seconds(config.round_timeout_s),
      .evicted_notices = static_cast<uint32_t>(outer.evicted_notices)};
}

Status PrepareDiloco(ProtocolRun& run) {
  const ProtocolConfig& config = *run.config;
  const AttackKind attack = run.attack.attack;
  if (attack != AttackKind::kNone && attack != AttackKind::kSignFlip &&
      attack != AttackKind::kGaussian) {
    return Status::InvalidArgument("byzantine.attack = \"", AttackName(attack),
                                   "\" is not simulated for protocol.kind = \"", config.kind,
                                   "\": use \"sign-flip\" or \"gaussian\"");
  }
  auto state = std::make_shared<DilocoRunState>();
  state->options.outer = ProtocolOptionsAs<DilocoConfig>(config);
  MURMUR_ASSIGN_OR_RETURN(state->options.collective,
                          DilocoCollectiveOptions(config, state->options.outer, run.num_peers));
  state->options.rounds = config.rounds;
  state->options.inner_steps = config.local_steps;
  state->options.num_peers = run.num_peers;
  state->options.seed = run.seed;
  run.state = std::shared_ptr<const DilocoRunState>(std::move(state));
  return Status::Ok();
}

// Every peer starts from peer 0's parameters (the global model).
Result<std::unique_ptr<Node>> MakeDilocoNode(const ProtocolRun& run, const PeerContext& peer) {
  const auto& state = *std::any_cast<const std::shared_ptr<const DilocoRunState>&>(run.state);
  DilocoAttack attack;
  if (Contains(run.byzantine, peer.id)) {
    attack = {.kind = run.attack.attack, .scale = run.attack.scale, .sigma = run.attack.sigma};
  }
  DilocoOptions options = state.options;
  if (peer.rejoin) {
    if (!options.outer.check_state || options.outer.delayed) {
      return Status::InvalidArgument(
          "a restarted ", run.config->kind, " peer (--rejoin) pulls the others' state after "
          "their next state check: it needs diloco.check_state = true and undelayed outer "
          "steps (protocol.kind = \"diloco\" with diloco.delayed = false)");
    }
    options.rejoin = true;
  }
  return std::unique_ptr<Node>(std::make_unique<DilocoNode>(
      *peer.learner, std::move(options), peer.initial_params, run.combiner, attack));
}

Result<AggregationSize> DilocoAggregationSize(const ProtocolRun& run) {
  return AggregationSize{
      .inputs = run.num_peers,
      .where = "protocol.kind = \"" + run.config->kind +
               "\" aggregates one pseudo-gradient per peer, " + std::to_string(run.num_peers) +
               " peers",
      .remedy = "more peers"};
}

extern const ProtocolSpec kDilocoSpec;
const ProtocolSpec kDilocoSpec{
    .name = "diloco",
    .default_options = [] { return std::any(DilocoConfig{}); },
    .read_options = ReadDiloco,
    .has_server = [](const ProtocolConfig&) { return false; },
    .robust = RobustSupport::kRules,
    .prepare = PrepareDiloco,
    .make_node = MakeDilocoNode,
    .aggregation_size = DilocoAggregationSize,
};

}  // namespace murmur
