#include "murmur/robust/bristle.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "murmur/robust/kernels.h"

namespace murmur {
namespace {

Status CheckSize(std::span<const float> v, const BristleLayout& layout, const char* what) {
  if (static_cast<int64_t>(v.size()) != layout.size()) {
    return Status::InvalidArgument("bristle: ", what, " has ", v.size(), " values, expected ",
                                   layout.size(), " (", layout.classes, " classes x (",
                                   layout.fan_in, " weights + 1 bias))");
  }
  return Status::Ok();
}

}  // namespace

double BristleClassDistance(std::span<const float> a, std::span<const float> b,
                            const BristleLayout& layout, int64_t c) {
  MURMUR_CHECK(static_cast<int64_t>(a.size()) == layout.size() &&
               static_cast<int64_t>(b.size()) == layout.size());
  MURMUR_CHECK(c >= 0 && c < layout.classes);
  double sum = 0;
  const int64_t row = c * layout.fan_in;
  for (int64_t i = row; i < row + layout.fan_in; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  const int64_t bias = layout.classes * layout.fan_in + c;
  const double d = static_cast<double>(a[bias]) - b[bias];
  return sum + d * d;
}

Result<std::vector<std::vector<size_t>>> BristlePrioritize(std::span<const float> own,
                                                           VectorList candidates,
                                                           const BristleLayout& layout,
                                                           const BristleOptions& options,
                                                           Rng& rng) {
  if (options.exploit < 0 || options.explore < 0) {
    return Status::InvalidArgument("bristle: exploit=", options.exploit,
                                   " and explore=", options.explore, " must be >= 0");
  }
  MURMUR_RETURN_IF_ERROR(CheckSize(own, layout, "the own output layer"));
  for (std::span<const float> v : candidates) {
    MURMUR_RETURN_IF_ERROR(CheckSize(v, layout, "a received output layer"));
  }
  const size_t n = candidates.size();
  std::vector<std::vector<size_t>> selection(static_cast<size_t>(layout.classes));
  std::vector<double> distances(n);
  for (int64_t c = 0; c < layout.classes; ++c) {
    for (size_t j = 0; j < n; ++j) {
      distances[j] = BristleClassDistance(own, candidates[j], layout, c);
    }
    const size_t near = std::min(n, static_cast<size_t>(options.exploit));
    std::vector<size_t> chosen = SmallestK(distances, near);
    std::vector<size_t> rest;
    for (size_t j = 0; j < n; ++j) {
      if (std::find(chosen.begin(), chosen.end(), j) == chosen.end()) rest.push_back(j);
    }
    // A partial Fisher-Yates shuffle draws `explore` of the rest uniformly.
    const size_t far = std::min(rest.size(), static_cast<size_t>(options.explore));
    for (size_t k = 0; k < far; ++k) {
      const size_t pick = k + static_cast<size_t>(rng.UniformInt(rest.size() - k));
      std::swap(rest[k], rest[pick]);
      chosen.push_back(rest[k]);
    }
    std::sort(chosen.begin(), chosen.end());
    selection[static_cast<size_t>(c)] = std::move(chosen);
  }
  return selection;
}

double BristleScore(double own_accuracy, double candidate_accuracy) {
  const double d = 10.0 * std::abs(candidate_accuracy - own_accuracy);
  if (candidate_accuracy > own_accuracy) return std::pow(d, 3.0 + own_accuracy);
  return -std::pow(d, 4.0 + own_accuracy);
}

double BristleScoreWeight(double score) {
  const double sigmoid = 1.0 / (1.0 + std::exp(-score / 100.0));
  return std::max(0.0, 10.0 * sigmoid - 4.0);
}

double BristleCertainty(std::span<const double> familiar_accuracies) {
  if (familiar_accuracies.empty()) return 0;
  const auto n = static_cast<double>(familiar_accuracies.size());
  const double mean =
      std::accumulate(familiar_accuracies.begin(), familiar_accuracies.end(), 0.0) / n;
  double var = 0;
  for (double a : familiar_accuracies) var += (a - mean) * (a - mean);
  return std::max(0.0, mean - std::sqrt(var / n));
}

Result<BristleWeights> BristleIntegratorWeights(
    std::span<const double> own_accuracy,
    const std::vector<std::vector<double>>& candidate_accuracy, std::span<const bool> familiar) {
  const size_t classes = own_accuracy.size();
  if (familiar.size() != classes) {
    return Status::InvalidArgument("bristle: ", familiar.size(), " familiar flags for ", classes,
                                   " classes");
  }
  auto in_range = [](double a) { return a >= 0.0 && a <= 1.0; };
  for (double a : own_accuracy) {
    if (!in_range(a)) return Status::InvalidArgument("bristle: own accuracy ", a, " not in [0, 1]");
  }
  BristleWeights out;
  for (const std::vector<double>& acc : candidate_accuracy) {
    if (acc.size() != classes) {
      return Status::InvalidArgument("bristle: a candidate has ", acc.size(),
                                     " class accuracies, expected ", classes);
    }
    std::vector<double> familiar_acc;
    double total_score = 0;
    std::vector<double> scores(classes, 0.0);
    for (size_t c = 0; c < classes; ++c) {
      if (!in_range(acc[c])) {
        return Status::InvalidArgument("bristle: candidate accuracy ", acc[c], " not in [0, 1]");
      }
      if (!familiar[c]) continue;
      familiar_acc.push_back(acc[c]);
      scores[c] = BristleScore(own_accuracy[c], acc[c]);
      total_score += scores[c];
    }
    const double certainty = BristleCertainty(familiar_acc);
    std::vector<double>& per_class = out.per_class.emplace_back(classes, 0.0);
    for (size_t c = 0; c < classes; ++c) {
      if (familiar[c]) per_class[c] = BristleScoreWeight(scores[c]) * certainty;
    }
    out.foreign.push_back(BristleScoreWeight(total_score) * certainty);
  }
  return out;
}

Status BristleIntegrate(std::span<float> own, VectorList candidates, const BristleLayout& layout,
                        const std::vector<std::vector<size_t>>& selection,
                        const BristleWeights& weights, std::span<const bool> familiar) {
  MURMUR_RETURN_IF_ERROR(CheckSize(own, layout, "the own output layer"));
  for (std::span<const float> v : candidates) {
    MURMUR_RETURN_IF_ERROR(CheckSize(v, layout, "a received output layer"));
  }
  const auto classes = static_cast<size_t>(layout.classes);
  if (selection.size() != classes || familiar.size() != classes ||
      weights.per_class.size() != candidates.size() ||
      weights.foreign.size() != candidates.size()) {
    return Status::InvalidArgument("bristle: selection, weights or familiar flags do not match ",
                                   candidates.size(), " candidates over ", classes, " classes");
  }
  for (size_t j = 0; j < candidates.size(); ++j) {
    if (weights.per_class[j].size() != classes) {
      return Status::InvalidArgument("bristle: candidate ", j, " has ",
                                     weights.per_class[j].size(), " class weights, expected ",
                                     classes);
    }
    for (double w : weights.per_class[j]) {
      if (!(w >= 0) || !std::isfinite(w)) {
        return Status::InvalidArgument("bristle: weight ", w, " must be finite and >= 0");
      }
    }
    if (!(weights.foreign[j] >= 0) || !std::isfinite(weights.foreign[j])) {
      return Status::InvalidArgument("bristle: weight ", weights.foreign[j],
                                     " must be finite and >= 0");
    }
  }
  for (const std::vector<size_t>& chosen : selection) {
    for (size_t j : chosen) {
      if (j >= candidates.size()) {
        return Status::InvalidArgument("bristle: selected candidate ", j, " out of range");
      }
    }
  }
  const auto fan_in = static_cast<size_t>(layout.fan_in);
  std::vector<double> row(fan_in + 1);
  for (size_t c = 0; c < classes; ++c) {
    const size_t w0 = c * fan_in;
    const size_t b = classes * fan_in + c;
    for (size_t i = 0; i < fan_in; ++i) row[i] = own[w0 + i];
    row[fan_in] = own[b];
    double total = 1.0;
    for (size_t j : selection[c]) {
      const double w = familiar[c] ? weights.per_class[j][c] : weights.foreign[j];
      if (w == 0) continue;
      std::span<const float> x = candidates[j];
      for (size_t i = 0; i < fan_in; ++i) row[i] += w * x[w0 + i];
      row[fan_in] += w * x[b];
      total += w;
    }
    if (total == 1.0) continue;
    for (size_t i = 0; i < fan_in; ++i) own[w0 + i] = static_cast<float>(row[i] / total);
    own[b] = static_cast<float>(row[fan_in] / total);
  }
  return Status::Ok();
}

}  // namespace murmur
