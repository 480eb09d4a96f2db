// Secure aggregation in runs: the privacy.secure_aggregation keys
// (docs/config.md, docs/privacy.md) and how one round's SecAggConfig
// (secagg.h) follows from them, computed alike by the server and by every
// client of the round so that none has to trust the other's numbers.
//
//  * "secagg":  Bonawitz et al. 2017, every client masks with every other
//               client of the round (a complete masking graph);
//  * "secagg+": Bell et al. 2020, masks and shares along a random Harary
//               graph of degree MaskingGraph::LogDegree(n) (complete when
//               that degree reaches n - 1).
// The threshold is a fraction of a client's share holders (its neighbours
// and itself): t = max(2, ceil(threshold * (degree + 1))). The server
// recovers the sum while every survivor and every dropped client with a
// surviving neighbour keeps at least t live share holders; a complete graph
// of n therefore tolerates n - t dropouts in all over the four phases.
//
// What is masked (privacy.secagg_encoding):
//  * "fixed_point": each update coordinate in fixed point over Z_{2^32};
//  * "rqm":         each coordinate's RQM level index (Youn, Hu, Ziani,
//                   Abernethy, 2023, "Randomized Quantization is All You Need
//                   for Differential Privacy in Federated Learning";
//                   privacy/rqm.h) over Z_{2^b}, b = RingBitsForSum(n (m-1))
//                   for n clients and m levels. The index sum is exact, and
//                   RqmLevelSum maps it to the sum of the decoded updates.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"
#include "murmur/privacy/rqm.h"
#include "murmur/privacy/secagg.h"

namespace murmur::privacy {

enum class SecureAggregationMode {
  kNone,        // updates travel in the clear (the default)
  kSecAgg,      // complete masking graph
  kSecAggPlus,  // logarithmic-degree Harary graph
};

// "none", "secagg", "secagg+".
std::string_view SecureAggregationModeName(SecureAggregationMode mode);
// kInvalidArgument for any other name.
Result<SecureAggregationMode> ParseSecureAggregationMode(std::string_view name);

// How a client's update enters the ring.
enum class SecAggEncoding {
  kFixedPoint,  // FixedPoint over Z_{2^32} (the default)
  kRqm,         // RQM level indices over Z_{2^b}
};

// "fixed_point", "rqm".
std::string_view SecAggEncodingName(SecAggEncoding encoding);
// kInvalidArgument for any other name.
Result<SecAggEncoding> ParseSecAggEncoding(std::string_view name);

// The [privacy] keys of secure aggregation.
struct SecureAggregationConfig {
  SecureAggregationMode mode = SecureAggregationMode::kNone;  // privacy.secure_aggregation
  double threshold = 0.5;      // privacy.secagg_threshold: fraction of share holders, (0, 1]
  FixedPoint fixed_point;      // privacy.secagg_fractional_bits, privacy.secagg_max_abs
  SecAggEncoding encoding = SecAggEncoding::kFixedPoint;  // privacy.secagg_encoding
  // privacy.rqm_clip, rqm_delta, rqm_levels, rqm_keep_probability (kRqm only).
  RqmConfig rqm;
  bool enabled() const { return mode != SecureAggregationMode::kNone; }
};

// The masking graph's degree for a round of `clients` (n - 1 when complete).
// REQUIRES: clients >= 2.
uint32_t SecureAggregationDegree(const SecureAggregationConfig& config, uint32_t clients);
// The round's Shamir threshold (see above). REQUIRES: clients >= 2.
uint32_t SecureAggregationThreshold(const SecureAggregationConfig& config, uint32_t clients);

// The SecAggConfig of one round of `clients` clients over vectors of
// `dimension` values; the SecAgg+ graph is drawn from `graph_seed`.
// kInvalidArgument from SecAggConfig::Validate (too few or too many
// clients, a dimension out of range, a fixed point that could wrap).
Result<SecAggConfig> MakeRoundConfig(const SecureAggregationConfig& config, uint32_t clients,
                                     uint32_t dimension, uint64_t graph_seed);

// The round's masked input for a client's update: FixedPoint-encoded
// floats (kFixedPoint: returned empty, the caller passes `update` to
// MaskedInput), or RQM's level indices of `update`, drawn from `rng`
// (kRqm: for MaskedRingInput).
std::vector<uint32_t> EncodeRoundInput(const SecureAggregationConfig& config,
                                       std::span<const float> update, Rng& rng);

// The sum of the survivors' updates after the last unmasking share:
// SecAggServer::Finish, or for kRqm RqmLevelSum of FinishRing's exact
// index sums over the survivors. Fails as Finish does.
Result<std::vector<double>> FinishRoundSum(const SecureAggregationConfig& config,
                                           SecAggServer& server);

// A client's 32-byte secret: libsodium's randombytes_buf (secret), or 32
// bytes of `rng` (a peer's seeded stream: replayable, not secret).
Secret32 SystemEntropy();
Secret32 SeededEntropy(Rng& rng);

}  // namespace murmur::privacy
