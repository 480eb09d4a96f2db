#include "experiment/robust_config.h"

#include "murmur/protocol/bristle_combiner.h"
#include "murmur/protocol/model_combiner.h"

namespace murmur {
namespace {

// The rule, f, pre and every rule's options are the robust factory's to read
// (ReadAggregatorConfig); the protocol-built rules add their own.
Status ReadRobust(ConfigReader& r, ProtocolConfig& protocol) {
  AggregatorConfig& c = protocol.robust;
  MURMUR_RETURN_IF_ERROR(ReadAggregatorConfig(r, "robust", CombinerRuleSpecs(), c));
  MURMUR_ASSIGN_OR_RETURN(protocol.gossip_window,
                          r.Int("robust.gossip_window", protocol.gossip_window, 1, 1'000'000));
  if (c.rule == kBristleRule) {
    Result<BristleOptions> options = BristleOptionsFrom(c);
    if (!options.ok()) return Status::InvalidArgument("[robust]: ", options.status().message());
    return Status::Ok();
  }
  Result<std::shared_ptr<const ModelCombiner>> combiner = ModelCombiner::Make(c);
  if (!combiner.ok()) {
    return Status::InvalidArgument("[robust]: ", combiner.status().message());
  }
  return Status::Ok();
}

Status ReadByzantine(ConfigReader& r, int64_t peers, ProtocolConfig& protocol) {
  ByzantineConfig& c = protocol.byzantine;
  MURMUR_ASSIGN_OR_RETURN(c.count, r.Int("byzantine.count", c.count, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.fraction, r.Double("byzantine.fraction", c.fraction, 0, 0.999999));
  MURMUR_ASSIGN_OR_RETURN(std::string attack,
                          r.String("byzantine.attack", "none", AttackNames()));
  MURMUR_ASSIGN_OR_RETURN(c.attack, ParseAttackKind(attack));
  MURMUR_ASSIGN_OR_RETURN(c.scale, r.Double("byzantine.scale", c.scale, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.sigma, r.Double("byzantine.sigma", c.sigma, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.z, r.Double("byzantine.z", c.z, 0, 100));
  MURMUR_ASSIGN_OR_RETURN(c.epsilon, r.Double("byzantine.epsilon", c.epsilon, 0, 1e9));
  MURMUR_ASSIGN_OR_RETURN(c.crash_round,
                          r.Int("byzantine.crash_round", c.crash_round, 1, 100'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.omission_prob,
                          r.Double("byzantine.omission_prob", c.omission_prob, 0, 1));
  MURMUR_ASSIGN_OR_RETURN(c.source_class,
                          r.Int("byzantine.source_class", c.source_class, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(c.target_class,
                          r.Int("byzantine.target_class", c.target_class, 0, 1'000'000));
  if (c.attack != AttackKind::kNone && c.count == 0 && c.fraction == 0) {
    return Status::InvalidArgument("byzantine.attack = \"", attack,
                                   "\" needs byzantine.count or byzantine.fraction > 0");
  }
  Result<int64_t> count = ByzantineCount(c, peers);
  if (!count.ok()) return Status::InvalidArgument("[byzantine]: ", count.status().message());
  return Status::Ok();
}

}  // namespace

Status ReadRobustConfig(ConfigReader& r, int64_t peers, ProtocolConfig& protocol) {
  MURMUR_RETURN_IF_ERROR(ReadRobust(r, protocol));
  return ReadByzantine(r, peers, protocol);
}

}  // namespace murmur
