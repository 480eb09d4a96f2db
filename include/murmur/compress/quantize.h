// Uniform quantization to 8, 4 or 2 bits with stochastic rounding: QSGD
// (Alistarh, Grubic, Li, Tomioka, Vojnovic, 2017, "QSGD:
// Communication-Efficient SGD via Gradient Quantization and Encoding").
//
// The vector is cut into buckets of `block` values (QSGD's bucketing; 0 means
// one bucket for the whole vector). Each bucket has a scale m = max |x_i|
// (the max-norm variant QSGD's experiments use; the analysis uses the
// L2 norm) and s = 2^(bits-1) - 1 levels per sign: 127, 7 or 1 (2 bits is
// ternary). A value becomes the integer q = floor(v) + [u < v - floor(v)],
// v = x * s / m, u uniform in [0, 1) with 16 bits, and decodes to q * m / s.
//
// Properties (tests check them):
//  * stochastic rounding is unbiased, E[decode] = x, up to 2^-16 of a level
//    (u's resolution, of the order of the float rounding of v itself);
//    |decode - x| < m / s per coordinate;
//  * rounding to nearest (Rounding::kNearest) is deterministic and biased,
//    with |decode - x| <= m / (2 s).
// The random stream is (ctx.seed, ctx.sender, ctx.step): replayable, and
// independent of every other stream.
//
// Frame: header | u8 bits | varint block | f32 scale per bucket |
//        ceil(dim * bits / 8) bytes of codes q + s, packed low bits first.
// The decoder rejects non-finite or negative scales, the unused code 2s + 1,
// non-zero padding bits, and bits or block other than its own.
// Stateless and thread-safe.
#pragma once

#include <cstdint>

#include "murmur/compress/codec.h"

namespace murmur {

enum class Rounding : uint8_t { kStochastic, kNearest };

struct QsgdOptions {
  int bits = 8;          // 2, 4 or 8
  uint32_t block = 512;  // bucket size; 0 = one bucket
  Rounding rounding = Rounding::kStochastic;
};

class QsgdCodec final : public Codec {
 public:
  // REQUIRES: options.bits is 2, 4 or 8.
  explicit QsgdCodec(QsgdOptions options);

  CodecId id() const override { return CodecId::kQsgd; }
  std::string name() const override;
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;

  const QsgdOptions& options() const { return options_; }

 private:
  size_t BlockSize(size_t dim) const;

  const QsgdOptions options_;
  const int levels_;  // s
};

}  // namespace murmur
