// Scaled sign compression, 1 bit per coordinate: C(x) = (||x||_1 / d) sign(x).
// signSGD: Bernstein, Wang, Azizzadenesheli, Anandkumar, 2018, "signSGD:
// Compressed Optimisation for Non-Convex Problems"; the l1 scale that makes
// it a contractive compressor usable with error feedback: Karimireddy,
// Rebjock, Stich, Jaggi, 2019, "Error Feedback Fixes SignSGD and other
// Gradient Compression Schemes".
//
// Biased: meant to run inside ErrorFeedbackEncoder. The sign is the float's
// sign bit, so -0.0 decodes to -scale and +0.0 to +scale.
//
// Frame: header | f32 scale | ceil(dim / 8) bytes, bit i (low bits first)
// set when x_i is negative. The decoder rejects a non-finite or negative
// scale and non-zero padding bits. Stateless and thread-safe.
#pragma once

#include "murmur/compress/codec.h"

namespace murmur {

class ScaledSignCodec final : public Codec {
 public:
  CodecId id() const override { return CodecId::kScaledSign; }
  std::string name() const override { return "sign"; }
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
};

}  // namespace murmur
