// Precision casts: fp32 (lossless, the reference), IEEE fp16 and bfloat16,
// both rounding to nearest, ties to even.
//
// fp16 (IEEE 754-2008 binary16) keeps 11 significant bits, so a value inside
// the normal range [2^-14, 65504] has relative error <= 2^-11; below it,
// absolute error <= 2^-25 (subnormals). Values beyond +-65504 saturate to
// +-65504 instead of becoming infinite. Mixed-precision training with fp16
// weights and gradients: Micikevicius et al. 2018, "Mixed Precision Training".
//
// bfloat16 keeps fp32's exponent and 8 significant bits: relative error
// <= 2^-8 everywhere above 2^-126, no overflow except beyond the largest
// bfloat16 (saturated likewise). Kalamkar et al. 2019, "A Study of BFLOAT16
// for Deep Learning Training".
//
// Frames: header | dim x (f32 | u16 little-endian). Decoders reject encodings
// of infinity and NaN. Stateless and thread-safe.
#pragma once

#include <cstdint>

#include "murmur/compress/codec.h"

namespace murmur {

// Round-to-nearest-even conversions. FloatToHalf saturates at +-65504 and
// FloatToBf16 at +-(largest finite bfloat16). REQUIRES: finite input.
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t b);

class Fp32Codec final : public Codec {
 public:
  CodecId id() const override { return CodecId::kFp32; }
  std::string name() const override { return "fp32"; }
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
};

class Fp16Codec final : public Codec {
 public:
  CodecId id() const override { return CodecId::kFp16; }
  std::string name() const override { return "fp16"; }
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
};

class Bf16Codec final : public Codec {
 public:
  CodecId id() const override { return CodecId::kBf16; }
  std::string name() const override { return "bf16"; }
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
};

}  // namespace murmur
