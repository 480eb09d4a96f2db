#include "murmur/protocol/model_merge.h"

#include <cmath>

#include "murmur/core/check.h"

namespace murmur {
namespace {

struct Moments {
  double mean = 0;
  double var = 0;  // population variance
};

Moments MomentsOf(std::span<const float> x) {
  Moments m;
  if (x.empty()) return m;
  for (float v : x) m.mean += v;
  m.mean /= static_cast<double>(x.size());
  for (float v : x) m.var += (v - m.mean) * (v - m.mean);
  m.var /= static_cast<double>(x.size());
  return m;
}

}  // namespace

void MergeModels(MergeRule rule, std::span<const std::span<const float>> models,
                 std::span<const ParamTensor> tensors, std::span<float> out) {
  MURMUR_CHECK(!models.empty());
  for (auto m : models) MURMUR_CHECK(m.size() == out.size());
  // Input variances first: `out` may alias models[0].
  std::vector<double> target_var;
  if (rule == MergeRule::kVarianceCorrected) {
    for (const ParamTensor& t : tensors) {
      MURMUR_CHECK(t.offset >= 0 && t.offset + t.size <= static_cast<int64_t>(out.size()));
      double v = 0;
      for (auto m : models) v += MomentsOf(m.subspan(t.offset, t.size)).var;
      target_var.push_back(v / static_cast<double>(models.size()));
    }
  }
  const auto k = static_cast<double>(models.size());
  for (size_t i = 0; i < out.size(); ++i) {
    double sum = 0;
    for (auto m : models) sum += m[i];
    out[i] = static_cast<float>(sum / k);
  }
  if (rule != MergeRule::kVarianceCorrected) return;
  for (size_t j = 0; j < tensors.size(); ++j) {
    std::span<float> x = out.subspan(tensors[j].offset, tensors[j].size);
    const Moments m = MomentsOf(x);
    if (m.var <= 0) continue;
    const double scale = std::sqrt(target_var[j] / m.var);
    for (float& v : x) v = static_cast<float>(m.mean + (v - m.mean) * scale);
  }
}

}  // namespace murmur
