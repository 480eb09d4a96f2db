// PowerSGD low-rank compression (Vogels, Karimireddy, Jaggi, 2019,
// "PowerSGD: Practical Low-Rank Gradient Compression for Distributed
// Optimization").
//
// The vector is laid out row-major as a rows x cols matrix M (cols =
// ceil(d / rows), zero padded; rows defaults to ceil(sqrt(d))). One power
// iteration from a Gaussian Q (cols x r) drawn from (ctx.seed, ctx.sender,
// ctx.step): P = orthonormalize(M Q), Q = M^T P; the frame carries P and Q
// and the receiver decodes P Q^T, the projection of M onto span(P). The rank
// is min(r, rows, cols). Sends r (rows + cols) floats instead of d.
//
// Biased (P P^T M is an orthogonal projection of M, so ||C(x)|| <= ||x||
// and ||x - C(x)|| <= ||x||): use it inside error feedback, as the paper
// does. Unlike the paper this codec keeps no state between steps
// (no warm start of Q): Q is drawn fresh each step, which keeps every codec
// stateless at the cost of a weaker approximation per step.
//
// Frame: header | varint rows | varint rank | factors frame
// (values codec, fp32 unless chained, of (rows + cols) * rank floats: P
// row-major, then Q row-major). The decoder rejects rows or rank other than
// its own and decoded values that overflow. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "murmur/compress/codec.h"

namespace murmur {

struct PowerSgdOptions {
  uint32_t rank = 4;  // >= 1
  uint32_t rows = 0;  // 0: ceil(sqrt(d))
};

class PowerSgdCodec final : public Codec {
 public:
  // REQUIRES: options.rank >= 1. `factors` encodes P and Q; nullptr = fp32.
  PowerSgdCodec(PowerSgdOptions options, std::unique_ptr<Codec> factors);

  CodecId id() const override { return CodecId::kPowerSgd; }
  std::string name() const override;
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;

  struct Shape {
    size_t rows = 0;
    size_t cols = 0;
    size_t rank = 0;
  };
  // The matrix shape and effective rank used for a vector of `dim`.
  Shape ShapeFor(size_t dim) const;

 private:
  const PowerSgdOptions options_;
  const std::unique_ptr<Codec> factors_;
};

}  // namespace murmur
