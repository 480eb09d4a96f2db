#include "murmur/compress/rqm.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "murmur/core/bytes.h"
#include "murmur/compress/bit_packing.h"

namespace murmur {
namespace {

constexpr uint32_t kMaxLevels = 1u << 16;

int BitsPerIndex(uint32_t levels) { return std::bit_width(levels - 1); }

// One coordinate: the kept subset, then unbiased rounding between the kept
// levels around x. Every interior level is drawn, not just those near x, so
// the number of draws (and the Rng position) does not depend on x.
uint32_t EncodeOne(const RqmConfig& config, double x, Rng& rng,
                   std::vector<uint8_t>& kept) {
  const uint32_t m = config.levels;
  kept[0] = kept[m - 1] = 1;
  for (uint32_t j = 1; j + 1 < m; ++j) {
    kept[j] = rng.Uniform() < config.keep_probability ? 1 : 0;
  }
  const double step = 2 * config.delta / (m - 1);
  // The cell [B(c), B(c+1)) holding x; x lies strictly inside (-delta, delta).
  uint32_t cell = static_cast<uint32_t>(std::floor((x + config.delta) / step));
  cell = std::min(cell, m - 2);
  uint32_t lo = cell;
  while (!kept[lo]) --lo;
  uint32_t hi = cell + 1;
  while (!kept[hi]) ++hi;
  const double b_lo = RqmLevel(config, lo);
  const double b_hi = RqmLevel(config, hi);
  const double p_hi = (x - b_lo) / (b_hi - b_lo);
  return rng.Uniform() < p_hi ? hi : lo;
}

}  // namespace

Status Validate(const RqmConfig& c) {
  if (!(c.clip > 0) || !std::isfinite(c.clip)) {
    return Status::InvalidArgument("rqm: clip=", c.clip, " must be finite and > 0");
  }
  if (!(c.delta > c.clip) || !std::isfinite(c.delta)) {
    return Status::InvalidArgument("rqm: delta=", c.delta, " must be finite and > clip=",
                                   c.clip);
  }
  if (c.levels < 3 || c.levels > kMaxLevels) {
    return Status::InvalidArgument("rqm: levels=", c.levels, " must lie in [3, ", kMaxLevels,
                                   "]");
  }
  if (!(c.keep_probability > 0 && c.keep_probability <= 1)) {
    return Status::InvalidArgument("rqm: keep_probability=", c.keep_probability,
                                   " must lie in (0, 1]");
  }
  return Status::Ok();
}

double RqmLevel(const RqmConfig& config, uint32_t j) {
  MURMUR_CHECK(j < config.levels);
  return -config.delta + 2 * config.delta * j / (config.levels - 1);
}

std::vector<uint32_t> RqmEncodeIndices(const RqmConfig& config, std::span<const float> values,
                                       Rng& rng) {
  MURMUR_CHECK(Validate(config).ok());
  std::vector<uint8_t> kept(config.levels);
  std::vector<uint32_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    const double x = std::isfinite(v) ? std::clamp<double>(v, -config.clip, config.clip) : 0.0;
    out[i] = EncodeOne(config, x, rng, kept);
  }
  return out;
}

double RqmLevelSum(const RqmConfig& config, uint64_t count, uint64_t index_sum) {
  return -config.delta * static_cast<double>(count) +
         2 * config.delta * static_cast<double>(index_sum) / (config.levels - 1);
}

std::vector<uint8_t> RqmEncode(const RqmConfig& config, std::span<const float> values,
                               Rng& rng) {
  const std::vector<uint32_t> indices = RqmEncodeIndices(config, values, rng);
  const int bits = BitsPerIndex(config.levels);
  ByteWriter out(8 + (values.size() * bits + 7) / 8);
  out.WriteU32(static_cast<uint32_t>(values.size()));
  out.WriteU32(config.levels);
  PackBits(indices, bits, out);
  return std::move(out).Take();
}

Status RqmDecode(const RqmConfig& config, std::span<const uint8_t> frame,
                 std::span<float> out) {
  MURMUR_CHECK(Validate(config).ok());
  ByteReader in(frame);
  MURMUR_ASSIGN_OR_RETURN(uint32_t count, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(uint32_t levels, in.ReadU32());
  if (count != out.size()) {
    return Status::Corrupt("rqm frame: ", count, " values where ", out.size(),
                           " were expected");
  }
  if (levels != config.levels) {
    return Status::Corrupt("rqm frame: ", levels, " levels where ", config.levels,
                           " were expected");
  }
  Result<std::vector<uint32_t>> indices = UnpackBits(frame.subspan(8), count, BitsPerIndex(levels));
  if (!indices.ok()) return Status::Corrupt("rqm frame: ", indices.status().message());
  for (uint32_t i = 0; i < count; ++i) {
    if ((*indices)[i] >= levels) {
      return Status::Corrupt("rqm frame: index ", (*indices)[i], " at ", i, " >= levels ", levels);
    }
  }
  for (uint32_t i = 0; i < count; ++i) out[i] = static_cast<float>(RqmLevel(config, (*indices)[i]));
  return Status::Ok();
}

}  // namespace murmur
