#include "murmur/protocol/model_combiner.h"

#include <cmath>
#include <vector>

#include "murmur/protocol/bristle_combiner.h"
#include "murmur/robust/external_rules.h"

namespace murmur {

std::vector<RuleSpec> CombinerRuleSpecs() {
  using Kind = OptionSpec::Kind;
  const SybilWallOptions sybilwall;
  const BristleOptions bristle;
  auto flag = [](const char* name, bool fallback) {
    return OptionSpec{.name = name, .key = std::string("sybilwall.") + name,
                      .kind = Kind::kBool, .fallback = fallback ? 1.0 : 0.0, .min = 0, .max = 1};
  };
  auto count = [](const char* name, int fallback) {
    return OptionSpec{.name = name, .key = name, .kind = Kind::kInt,
                      .fallback = static_cast<double>(fallback), .min = 0, .max = 1'000'000};
  };
  return {
      {std::string(ModelCombiner::kSybilWallRule),
       {{.name = "lambda", .key = "sybilwall.lambda", .kind = Kind::kDouble,
         .fallback = sybilwall.lambda, .min = 1e-6, .max = 1e6},
        flag("pardoning", sybilwall.score.pardoning), flag("logit", sybilwall.score.logit)}},
      {kBristleRule, {count("exploit", bristle.exploit), count("explore", bristle.explore)}},
  };
}

Result<std::shared_ptr<const ModelCombiner>> ModelCombiner::MakeSybilWall(
    const AggregatorConfig& config) {
  if (!config.pre.empty()) {
    return Status::InvalidArgument(
        "sybilwall takes no pre-aggregators: its similarity score reads the raw update "
        "histories; drop robust.pre");
  }
  SybilWallOptions options;
  for (const auto& [key, value] : config.options) {
    if (key == "lambda") {
      if (!std::isfinite(value) || value <= 0 || value > 1e6) {
        return Status::InvalidArgument("sybilwall: option lambda=", value,
                                       " must be in (0, 1e6]");
      }
      options.lambda = value;
    } else if (key == "pardoning" || key == "logit") {
      if (value != 0 && value != 1) {
        return Status::InvalidArgument("sybilwall: option ", key, "=", value,
                                       " must be 0 or 1");
      }
      (key == "pardoning" ? options.score.pardoning : options.score.logit) = value == 1;
    } else {
      return Status::InvalidArgument("sybilwall: unknown option '", key,
                                     "'; valid options: lambda, logit, pardoning");
    }
  }
  MURMUR_ASSIGN_OR_RETURN(
      std::unique_ptr<Aggregator> rule,
      MakeAggregator(AggregatorConfig{
          .rule = "similarity-downweighting",
          .f = config.f,
          .options = {{"pardoning", options.score.pardoning ? 1.0 : 0.0},
                      {"logit", options.score.logit ? 1.0 : 0.0}}}));
  auto* combiner = new ModelCombiner(std::move(rule), /*plain_average=*/false);
  combiner->sybilwall_ = options;
  return std::shared_ptr<const ModelCombiner>(combiner);
}

Result<std::shared_ptr<const ModelCombiner>> ModelCombiner::Make(
    const AggregatorConfig& config) {
  if (config.rule == kSybilWallRule) return MakeSybilWall(config);
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<Aggregator> rule, MakeAggregator(config));
  const bool plain = config.rule == "mean" && config.pre.empty();
  return std::shared_ptr<const ModelCombiner>(new ModelCombiner(std::move(rule), plain));
}

bool ModelCombiner::CanSnapshot() const {
  // A chain's name holds every stage's ("bucketing>py:mine").
  return rule_->name().find(kExternalRulePrefix) == std::string::npos;
}

Status ModelCombiner::Combine(std::span<float> own, VectorList others, OwnModel own_model,
                              std::span<const double> weights, Rng& rng) const {
  const size_t dim = own.size();
  // Differences from the own model; a non-finite model gives a non-finite
  // difference, which the rule drops (robust/aggregator.h).
  std::vector<std::vector<float>> diffs;
  diffs.reserve(others.size() + 1);
  if (own_model == OwnModel::kIsInput) diffs.emplace_back(dim, 0.0f);
  for (const auto& other : others) {
    if (other.size() != dim) {
      return Status::InvalidArgument(rule_->name(), ": a model has ", other.size(),
                                     " parameters, expected ", dim);
    }
    std::vector<float>& d = diffs.emplace_back(dim);
    for (size_t i = 0; i < dim; ++i) d[i] = other[i] - own[i];
  }
  std::vector<std::span<const float>> views(diffs.begin(), diffs.end());
  const std::vector<float> zero(dim, 0.0f);
  std::vector<float> delta(dim);
  AggregationInput input{.vectors = views,
                         .weights = rule_->accepts_weights() ? weights : std::span<const double>(),
                         .reference = zero,
                         .rng = &rng};
  MURMUR_RETURN_IF_ERROR(rule_->Aggregate(input, delta));
  for (size_t i = 0; i < dim; ++i) own[i] += delta[i];
  return Status::Ok();
}

}  // namespace murmur
