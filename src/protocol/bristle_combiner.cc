#include "murmur/protocol/bristle_combiner.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "murmur/learn/learner.h"
#include "murmur/robust/kernels.h"

namespace murmur {
namespace {

std::vector<double> Accuracies(const ClassAccuracy& a) {
  std::vector<double> out(a.total.size());
  for (size_t c = 0; c < out.size(); ++c) out[c] = a.accuracy(c);
  return out;
}

}  // namespace

Result<BristleOptions> BristleOptionsFrom(const AggregatorConfig& config) {
  MURMUR_CHECK(config.rule == kBristleRule);
  if (!config.pre.empty()) {
    return Status::InvalidArgument("bristle takes no pre-aggregators (robust.pre = [\"",
                                   config.pre.front().name, "\", ...]); drop robust.pre");
  }
  BristleOptions out;
  for (const auto& [key, value] : config.options) {
    int* field = key == "exploit" ? &out.exploit : key == "explore" ? &out.explore : nullptr;
    if (field == nullptr) {
      return Status::InvalidArgument("bristle: unknown option '", key,
                                     "'; valid options: exploit, explore");
    }
    if (!(value >= 0) || value > 1e9 || value != static_cast<double>(static_cast<int>(value))) {
      return Status::InvalidArgument("bristle: option ", key, "=", value,
                                     " must be a non-negative integer");
    }
    *field = static_cast<int>(value);
  }
  return out;
}

BristleCombiner::BristleCombiner(const Model& model, const Dataset& validation,
                                 const BristleOptions& options)
    : model_(model), validation_(validation), options_(options), layer_(OutputLayerOf(model)) {
  MURMUR_CHECK(validation.size() > 0);
  MURMUR_CHECK(validation.num_classes == layer_.classes);
  familiar_ = std::make_unique<bool[]>(static_cast<size_t>(layer_.classes));  // all false
  for (int64_t y : validation.labels) {
    MURMUR_CHECK(y >= 0 && y < layer_.classes);
    familiar_[static_cast<size_t>(y)] = true;
  }
}

Status BristleCombiner::Combine(std::span<float> own, VectorList others, Rng& rng) const {
  MURMUR_CHECK(static_cast<int64_t>(own.size()) == model_.num_params());
  const BristleLayout layout{.classes = layer_.classes, .fan_in = layer_.fan_in};
  std::vector<std::span<const float>> finite;
  for (std::span<const float> v : others) {
    if (static_cast<int64_t>(v.size()) != layout.size()) {
      return Status::InvalidArgument("bristle: a received output layer has ", v.size(),
                                     " values, expected ", layout.size());
    }
    if (!HasNonFinite(v)) finite.push_back(v);
  }
  if (finite.empty()) return Status::Ok();
  std::span<float> head = own.subspan(static_cast<size_t>(layer_.offset));
  MURMUR_ASSIGN_OR_RETURN(std::vector<std::vector<size_t>> selection,
                          BristlePrioritize(head, finite, layout, options_, rng));
  // Only layers prioritized for some class are evaluated.
  std::vector<size_t> evaluated;
  for (const auto& chosen : selection) evaluated.insert(evaluated.end(), chosen.begin(), chosen.end());
  std::sort(evaluated.begin(), evaluated.end());
  evaluated.erase(std::unique(evaluated.begin(), evaluated.end()), evaluated.end());

  const std::vector<double> own_accuracy = Accuracies(EvaluatePerClass(model_, own, validation_));
  // The candidates on top of the own (frozen, shared) body.
  std::vector<float> scratch(own.begin(), own.end());
  const auto classes = static_cast<size_t>(layer_.classes);
  std::vector<std::vector<double>> accuracy(finite.size(), std::vector<double>(classes, 0.0));
  for (size_t j : evaluated) {
    std::copy(finite[j].begin(), finite[j].end(),
              scratch.begin() + static_cast<std::ptrdiff_t>(layer_.offset));
    accuracy[j] = Accuracies(EvaluatePerClass(model_, scratch, validation_));
  }
  const std::span<const bool> familiar_span(familiar_.get(), classes);
  MURMUR_ASSIGN_OR_RETURN(BristleWeights weights,
                          BristleIntegratorWeights(own_accuracy, accuracy, familiar_span));
  return BristleIntegrate(head, finite, layout, selection, weights, familiar_span);
}

}  // namespace murmur
