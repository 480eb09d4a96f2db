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

std::string_view SecAggEncodingName(SecAggEncoding encoding) {
  return encoding == SecAggEncoding::kRqm ? "rqm" : "fixed_point";
}

Result<SecAggEncoding> ParseSecAggEncoding(std::string_view name) {
  for (auto encoding : {SecAggEncoding::kFixedPoint, SecAggEncoding::kRqm}) {
    if (SecAggEncodingName(encoding) == name) return encoding;
  }
  return Status::InvalidArgument("privacy.secagg_encoding = \"", name,
                                 "\": use \"fixed_point\" or \"rqm\"");
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
  if (config.encoding == SecAggEncoding::kRqm) {
    MURMUR_RETURN_IF_ERROR(Validate(config.rqm));
    // n indices below m sum to at most n (m - 1) < 2^32 (n, m <= 2^16).
    out.input = SecAggInput::kRing;
    out.ring_bits = RingBitsForSum(uint64_t{clients} * (config.rqm.levels - 1));
  }
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

std::vector<uint32_t> EncodeRoundInput(const SecureAggregationConfig& config,
                                       std::span<const float> update, Rng& rng) {
  if (config.encoding != SecAggEncoding::kRqm) return {};
  return RqmEncodeIndices(config.rqm, update, rng);
}

Result<std::vector<double>> FinishRoundSum(const SecureAggregationConfig& config,
                                           SecAggServer& server) {
  if (config.encoding != SecAggEncoding::kRqm) return server.Finish();
  MURMUR_ASSIGN_OR_RETURN(std::vector<uint32_t> index_sums, server.FinishRing());
  const uint64_t count = server.survivors().size();
  std::vector<double> out(index_sums.size());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = RqmLevelSum(config.rqm, count, index_sums[i]);
  }
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
