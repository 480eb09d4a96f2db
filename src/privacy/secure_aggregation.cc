#include "murmur/privacy/secure_aggregation.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>

#include "murmur/core/rng.h"

namespace murmur::privacy {

std::string_view SecureAggregationModeName(SecureAggregationMode mode) {
  switch (mode) {
    case SecureAggregationMode::kNone: return "none";
    case SecureAggregationMode::kSecAgg: return "secagg";
    case SecureAggregationMode::kSecAggPlus: return "secagg+";
  }
  return "none";
}

Result<SecureAggregationMode> ParseSecureAggregationMode(std::string_view name) {
  for (auto mode : {SecureAggregationMode::kNone, SecureAggregationMode::kSecAgg,
                    SecureAggregationMode::kSecAggPlus}) {
    if (SecureAggregationModeName(mode) == name) return mode;
  }
  return Status::InvalidArgument("privacy.secure_aggregation = \"", name,
                                 "\": use \"none\", \"secagg\" or \"secagg+\"");
}

uint32_t SecureAggregationDegree(const SecureAggregationConfig& config, uint32_t clients) {
  MURMUR_CHECK(clients >= 2);
  if (config.mode != SecureAggregationMode::kSecAggPlus) return clients - 1;
  return MaskingGraph::LogDegree(clients);
}

uint32_t SecureAggregationThreshold(const SecureAggregationConfig& config, uint32_t clients) {
  const uint32_t holders = SecureAggregationDegree(config, clients) + 1;
  const auto t = static_cast<uint32_t>(std::ceil(config.threshold * holders - 1e-9));
  return std::clamp<uint32_t>(t, 2, holders);
}

Result<SecAggConfig> MakeRoundConfig(const SecureAggregationConfig& config, uint32_t clients,
                                     uint32_t dimension, uint64_t graph_seed) {
  if (clients < 2 || clients > (1u << 16)) {
    return Status::InvalidArgument("secure aggregation needs 2 .. 65536 clients in a round, not ",
                                   clients);
  }
  SecAggConfig out;
  out.dimension = dimension;
  out.fixed_point = config.fixed_point;
  out.threshold = SecureAggregationThreshold(config, clients);
  const uint32_t degree = SecureAggregationDegree(config, clients);
  if (degree >= clients - 1) {
    out.graph = MaskingGraph::Complete(clients);
  } else {
    Rng rng(graph_seed, PeerId(0), RngPurpose::kTopology);
    out.graph = MaskingGraph::Harary(clients, degree, rng);
  }
  MURMUR_RETURN_IF_ERROR(out.Validate());
  return out;
}

Secret32 SystemEntropy() {
  MURMUR_CHECK(sodium_init() >= 0);
  Secret32 out;
  randombytes_buf(out.data(), out.size());
  return out;
}

Secret32 SeededEntropy(Rng& rng) {
  Secret32 out;
  for (size_t i = 0; i < out.size(); i += 4) {
    const uint32_t word = rng.NextU32();
    for (size_t b = 0; b < 4; ++b) out[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  return out;
}

}  // namespace murmur::privacy
