// The randomized quantization mechanism, RQM (Youn, Hu, Ziani, Abernethy,
// 2023, "Randomized Quantization is All You Need for Differential Privacy in
// Federated Learning"): a quantizer whose randomness is itself a DP
// mechanism, so one codec both compresses an update and privatizes it with no
// added Gaussian noise.
//
// Levels B(j) = -delta + 2 delta j / (levels - 1), j = 0 .. levels-1, span
// [-delta, delta] with delta > clip. For each coordinate x (clamped to
// [-clip, clip]) the encoder keeps every interior level independently with
// probability keep_probability (the two extreme levels always), then rounds x
// stochastically and without bias to one of the two kept levels around it.
// Because the extremes lie strictly outside [-clip, clip], every level
// adjacent to x has a positive chance, which bounds the likelihood ratio
// between neighbouring inputs. The paper computes the mechanism's Rényi DP
// numerically; this file implements the mechanism and its wire form only
// (its exact accountant is privacy/rqm_accountant.h). It lives in compress/
// because it is a quantizer: the "rqm" codec (MakeCodec, docs/compression.md)
// frames this wire form, and privacy/ uses the same functions for secure
// aggregation, where the indices travel masked instead (RqmLevelSum below;
// privacy/rqm.h names them in murmur::privacy).
//
// Wire form (little-endian): u32 count, u32 levels, then count level indices
// of ceil(log2(levels)) bits each, packed LSB first, zero-padded to a byte.
// The decoder never trusts a length: count and levels must match what the
// receiver expects, and every index must be < levels.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/status.h"

namespace murmur {

struct RqmConfig {
  double clip = 1.0;              // c: inputs are clamped to [-c, c]
  double delta = 2.0;             // level range [-delta, delta]; > clip
  uint32_t levels = 16;           // m >= 3, <= 2^16
  double keep_probability = 0.5;  // q in (0, 1]
};

// kInvalidArgument naming the field for a config outside its range.
Status Validate(const RqmConfig& config);

// The value of level j. REQUIRES: j < config.levels.
double RqmLevel(const RqmConfig& config, uint32_t j);

// Encodes `values` into the wire form. Draws, per coordinate in order, one
// rng.Uniform() per interior level (the subset) and one for the rounding, so
// a replay of the Rng replays the encoding. Non-finite inputs encode as 0.
// REQUIRES: Validate(config).ok().
std::vector<uint8_t> RqmEncode(const RqmConfig& config, std::span<const float> values,
                               Rng& rng);

// The level indices RqmEncode packs, each < config.levels, drawing exactly
// the same randomness (RqmEncode is this, then packing).
// REQUIRES: Validate(config).ok().
std::vector<uint32_t> RqmEncodeIndices(const RqmConfig& config, std::span<const float> values,
                                       Rng& rng);

// The sum of `count` decoded values whose level indices sum to `index_sum`.
// The levels are affine in the index, so that sum is
// -count delta + 2 delta index_sum / (levels - 1): secure aggregation
// (secagg.h, SecAggInput::kRing) need only sum the integer indices, exactly,
// and one affine map recovers the sum of the decoded updates.
double RqmLevelSum(const RqmConfig& config, uint64_t count, uint64_t index_sum);

// Decodes into `out` (out.size() values expected). kCorrupt, with `out`
// untouched, on a count or level mismatch, a short or long frame, or an index
// >= levels. REQUIRES: Validate(config).ok().
Status RqmDecode(const RqmConfig& config, std::span<const uint8_t> frame,
                 std::span<float> out);

}  // namespace murmur
