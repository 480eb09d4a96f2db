#include "murmur/protocol/model_combiner.h"

#include <vector>

namespace murmur {

Result<std::shared_ptr<const ModelCombiner>> ModelCombiner::Make(
    const AggregatorConfig& config) {
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<Aggregator> rule, MakeAggregator(config));
  const bool plain = config.rule == "mean" && config.pre.empty();
  return std::shared_ptr<const ModelCombiner>(new ModelCombiner(std::move(rule), plain));
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
