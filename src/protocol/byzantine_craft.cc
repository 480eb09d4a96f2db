#include "protocol/byzantine_craft.h"

#include <limits>

#include "murmur/core/check.h"
#include "murmur/robust/attacks.h"

namespace murmur {

std::vector<float> CraftModel(const ByzantineConfig& config, const CraftInput& in) {
  const size_t dim = in.base.size();
  MURMUR_CHECK(in.trained.size() == dim);
  std::vector<float> out(dim);
  std::vector<float> update(dim);
  switch (config.attack) {
    case AttackKind::kSignFlip: {
      std::vector<float> own(dim);
      for (size_t i = 0; i < dim; ++i) own[i] = in.trained[i] - in.base[i];
      SignFlip(own, config.scale, update);
      for (size_t i = 0; i < dim; ++i) out[i] = in.base[i] + update[i];
      return out;
    }
    case AttackKind::kGaussian:
      MURMUR_CHECK(in.noise.size() == dim);
      for (size_t i = 0; i < dim; ++i) out[i] = in.base[i] + in.noise[i];
      return out;
    case AttackKind::kAlie:
    case AttackKind::kIpm: {
      if (in.honest.empty()) break;
      std::vector<std::vector<float>> deltas;
      for (const auto& m : in.honest) {
        std::vector<float>& d = deltas.emplace_back(dim);
        for (size_t i = 0; i < dim; ++i) d[i] = m[i] - in.base[i];
      }
      std::vector<std::span<const float>> views(deltas.begin(), deltas.end());
      const Status status = config.attack == AttackKind::kAlie
                                ? ALittleIsEnough(views, config.z, update)
                                : InnerProductManipulation(views, config.epsilon, update);
      MURMUR_CHECK(status.ok());
      for (size_t i = 0; i < dim; ++i) out[i] = in.base[i] + update[i];
      return out;
    }
    case AttackKind::kMimic:
      if (in.honest.empty()) break;
      out.assign(in.honest.front().begin(), in.honest.front().end());
      return out;
    case AttackKind::kEquivocation: {
      if (in.honest.empty()) break;
      std::vector<float> mean(dim);
      MURMUR_CHECK(MeanOf(in.honest, mean).ok());
      if (in.receiver.empty()) return mean;
      Dissensus(in.receiver, mean, config.scale, out);
      return out;
    }
    case AttackKind::kNan:
      std::fill(out.begin(), out.end(), std::numeric_limits<float>::quiet_NaN());
      return out;
    case AttackKind::kInf:
      std::fill(out.begin(), out.end(), std::numeric_limits<float>::infinity());
      return out;
    default:  // label-flip, sybil, crash (before crashing), omission, free-ride
      break;
  }
  // No honest model to craft from, or an attack that sends what it trained.
  out.assign(in.trained.begin(), in.trained.end());
  return out;
}

}  // namespace murmur
