#include "murmur/robust/sybilwall.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "murmur/robust/kernels.h"

namespace murmur {

Status SybilWallAggregate(std::span<float> own, VectorList models, VectorList histories,
                          const SimilarityScoreOptions& score, std::vector<double>* weights,
                          ThreadPool* pool) {
  const size_t k = models.size();
  const size_t dim = own.size();
  if (histories.size() < k) {
    return Status::InvalidArgument("sybilwall: ", k, " neighbour models but only ",
                                   histories.size(), " histories");
  }
  for (VectorList list : {models, histories}) {
    for (const auto& v : list) {
      if (v.size() != dim) {
        return Status::InvalidArgument("sybilwall: a vector has ", v.size(),
                                       " values, expected ", dim);
      }
    }
  }
  std::vector<uint8_t> bad_history(histories.size());
  FlagNonFinite(histories, bad_history, pool);
  std::vector<std::span<const float>> finite;
  std::vector<size_t> position(histories.size(), SIZE_MAX);
  for (size_t i = 0; i < histories.size(); ++i) {
    if (bad_history[i] != 0) continue;
    position[i] = finite.size();
    finite.push_back(histories[i]);
  }
  std::vector<double> scores;
  if (!finite.empty()) {
    scores = SimilarityScores(GramMatrix(finite, pool), finite.size(), score);
  }
  std::vector<uint8_t> bad_model(k);
  FlagNonFinite(models, bad_model, pool);
  std::vector<std::span<const float>> inputs{std::span<const float>(own)};
  std::vector<double> coef{1.0};
  double total = 1.0;
  for (size_t j = 0; j < k; ++j) {
    const double s = bad_model[j] == 0 && position[j] != SIZE_MAX ? scores[position[j]] : 0.0;
    inputs.push_back(models[j]);
    coef.push_back(s);
    total += s;
  }
  if (weights != nullptr) {
    weights->clear();
    for (double c : coef) weights->push_back(c / total);
  }
  // LinearCombination reads every input, so a non-finite model must not be
  // one even at weight 0 (0 * NaN is NaN).
  std::vector<std::span<const float>> kept;
  std::vector<double> kept_coef;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i > 0 && bad_model[i - 1] != 0) continue;
    kept.push_back(inputs[i]);
    kept_coef.push_back(coef[i]);
  }
  std::vector<float> out(dim);
  LinearCombination(kept, kept_coef, total, out, pool);
  std::copy(out.begin(), out.end(), own.begin());
  return Status::Ok();
}

}  // namespace murmur
