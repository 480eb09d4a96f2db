#include "experiment/robust_config.h"

#include <map>

#include "murmur/protocol/bristle_combiner.h"
#include "murmur/protocol/model_combiner.h"

namespace murmur {
namespace {

// Rule options by rule; every option key defaults to 0, which means "the
// rule's own default", so a sweep can set e.g. robust.tau for every cell
// and only centered-clipping uses it.
const std::map<std::string, std::vector<std::string>>& RuleOptions() {
  static const auto* options = new std::map<std::string, std::vector<std::string>>{
      {"multi-krum", {"m"}},
      {"geometric-median", {"nu", "max_iterations", "tolerance"}},
      {"centered-clipping", {"tau", "iterations"}},
      {"flag", {"subspace_dim", "max_iterations", "eps", "rescale_to_median_norm"}},
  };
  return *options;
}

Status ReadRobust(ConfigReader& r, ProtocolConfig& protocol) {
  AggregatorConfig& c = protocol.robust;
  std::vector<std::string> rules = AggregatorNames();
  rules.emplace_back(ModelCombiner::kSybilWallRule);
  rules.push_back(kBristleRule);
  MURMUR_ASSIGN_OR_RETURN(c.rule, r.String("robust.rule", c.rule, rules));
  MURMUR_ASSIGN_OR_RETURN(int64_t f, r.Int("robust.f", c.f, 0, 1'000'000));
  c.f = static_cast<int>(f);
  MURMUR_ASSIGN_OR_RETURN(std::vector<std::string> pre,
                          r.StringList("robust.pre", {}, PreAggregatorNames()));
  std::map<std::string, double> values;
  MURMUR_ASSIGN_OR_RETURN(values["m"], r.Int("robust.m", 0, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(values["nu"], r.Double("robust.nu", 0, 0, 1e300));
  MURMUR_ASSIGN_OR_RETURN(values["max_iterations"],
                          r.Int("robust.max_iterations", 0, 0, 1'000'000'000));
  MURMUR_ASSIGN_OR_RETURN(values["tolerance"], r.Double("robust.tolerance", 0, 0, 1));
  MURMUR_ASSIGN_OR_RETURN(values["tau"], r.Double("robust.tau", 0, 0, 1e300));
  MURMUR_ASSIGN_OR_RETURN(values["iterations"],
                          r.Int("robust.iterations", 0, 0, 1'000'000'000));
  MURMUR_ASSIGN_OR_RETURN(values["subspace_dim"],
                          r.Int("robust.subspace_dim", 0, 0, 1'000'000'000));
  MURMUR_ASSIGN_OR_RETURN(values["eps"], r.Double("robust.eps", 0, 0, 1));
  MURMUR_ASSIGN_OR_RETURN(bool rescale, r.Bool("robust.rescale_to_median_norm", false));
  const BristleOptions bristle_defaults;
  MURMUR_ASSIGN_OR_RETURN(int64_t exploit,
                          r.Int("robust.exploit", bristle_defaults.exploit, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(int64_t explore,
                          r.Int("robust.explore", bristle_defaults.explore, 0, 1'000'000));
  values["rescale_to_median_norm"] = rescale ? 1 : 0;
  MURMUR_ASSIGN_OR_RETURN(double clip_tau, r.Double("robust.clip_tau", 0, 0, 1e300));
  MURMUR_ASSIGN_OR_RETURN(int64_t bucket_s, r.Int("robust.bucket_s", 0, 0, 1'000'000));
  MURMUR_ASSIGN_OR_RETURN(protocol.gossip_window,
                          r.Int("robust.gossip_window", protocol.gossip_window, 1, 1'000'000));

  // SybilWall's knobs (protocol/sybilwall.h); they apply only to its rule.
  SybilWallOptions sybilwall;
  MURMUR_ASSIGN_OR_RETURN(double lambda,
                          r.Double("sybilwall.lambda", sybilwall.lambda, 1e-6, 1e6));
  MURMUR_ASSIGN_OR_RETURN(bool pardoning,
                          r.Bool("sybilwall.pardoning", sybilwall.score.pardoning));
  MURMUR_ASSIGN_OR_RETURN(bool logit, r.Bool("sybilwall.logit", sybilwall.score.logit));

  c.options.clear();
  if (c.rule == ModelCombiner::kSybilWallRule) {
    c.options = {{"lambda", lambda}, {"pardoning", pardoning ? 1 : 0}, {"logit", logit ? 1 : 0}};
  }
  auto it = RuleOptions().find(c.rule);
  if (it != RuleOptions().end()) {
    for (const std::string& name : it->second) {
      if (values[name] != 0) c.options[name] = values[name];
    }
  }
  if (c.rule == kBristleRule) {
    c.options["exploit"] = static_cast<double>(exploit);
    c.options["explore"] = static_cast<double>(explore);
  }
  c.pre.clear();
  for (const std::string& name : pre) {
    PreAggregatorConfig& stage = c.pre.emplace_back(PreAggregatorConfig{.name = name});
    if (name == "clip" && clip_tau > 0) stage.options["tau"] = clip_tau;
    if (name == "bucketing" && bucket_s > 0) stage.options["s"] = static_cast<double>(bucket_s);
  }
  if (c.rule == kBristleRule) {
    Result<BristleOptions> options = BristleOptionsFrom(c);
    if (!options.ok()) return Status::InvalidArgument("[robust]: ", options.status().message());
    return Status::Ok();
  }
  Result<std::shared_ptr<const ModelCombiner>> combiner = ModelCombiner::Make(c);
  if (!combiner.ok()) {
    return Status::InvalidArgument("[robust]: ", combiner.status().message(),
                                   " (pre = [\"clip\"] needs robust.clip_tau > 0)");
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
