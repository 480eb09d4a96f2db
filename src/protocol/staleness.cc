#include "murmur/protocol/staleness.h"

#include <cmath>

#include "murmur/core/check.h"

namespace murmur {

Result<StalenessKind> ParseStalenessKind(std::string_view name) {
  if (name == "constant") return StalenessKind::kConstant;
  if (name == "polynomial") return StalenessKind::kPolynomial;
  if (name == "hinge") return StalenessKind::kHinge;
  return Status::InvalidArgument("unknown staleness function \"", name,
                                 "\"; use constant, polynomial or hinge");
}

double StalenessWeight(const StalenessConfig& config, int64_t staleness) {
  MURMUR_CHECK(staleness >= 0 && config.a >= 0 && config.b >= 0);
  const auto s = static_cast<double>(staleness);
  switch (config.kind) {
    case StalenessKind::kConstant:
      return 1.0;
    case StalenessKind::kPolynomial:
      return std::pow(s + 1.0, -config.a);
    case StalenessKind::kHinge:
      if (staleness <= config.b) return 1.0;
      return 1.0 / (config.a * (s - static_cast<double>(config.b)) + 1.0);
  }
  return 1.0;
}

}  // namespace murmur
