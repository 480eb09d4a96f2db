// Sparsification: send k of d coordinates.
//
// Top-k keeps the k largest magnitudes (Aji and Heafield, 2017, "Sparse
// Communication for Distributed Gradient Descent"; Stich, Cordonnier, Jaggi,
// 2018, "Sparsified SGD with Memory"). Ties at the k-th magnitude keep the
// smallest indices, so the selection is a deterministic function of x.
// Indices travel delta+varint coded or as a bitmap, whichever is smaller.
// Contractive with delta = k / d; biased: run it inside error feedback.
//
// Rand-k keeps k coordinates drawn uniformly without replacement from the
// stream (ctx.seed, ctx.sender, ctx.step) (Stich, Cordonnier, Jaggi 2018).
// The receiver regenerates the same index set from that context, so only
// the values travel. With RandKScaling::kUnbiased the receiver multiplies
// by d / k, making E[decode] = x (variance grows by d / k); with kNone it is
// the contractive compressor of Stich et al., for use with error feedback.
//
// Both hand the kept values to a values codec (fp32 unless the chain says
// otherwise, e.g. "topk:0.01|int8").
//
// Frames:
//   top-k:  header | varint k | index coding (see below) | values frame
//   rand-k: header | varint k | u8 scaling | values frame
// where the index coding is a byte (0 = delta varint, 1 = bitmap) then the
// indices. The decoder rejects a k other than its own k(d), indices out of
// range or not strictly increasing, and whatever the values codec rejects.
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "murmur/compress/codec.h"

namespace murmur {

// How many coordinates a sparsifier keeps: a fraction of d or a count.
class SparsityLevel {
 public:
  // REQUIRES: 0 < fraction <= 1.
  static SparsityLevel Fraction(double fraction);
  // REQUIRES: count >= 1.
  static SparsityLevel Count(uint64_t count);

  // k for a vector of `dim`: round(fraction * dim) clamped to [1, dim], or
  // min(count, dim); 0 when dim is 0.
  size_t KeepFor(size_t dim) const;
  // "0.01" or "k=1000".
  std::string ToString() const;

 private:
  SparsityLevel(double fraction, uint64_t count) : fraction_(fraction), count_(count) {}
  double fraction_;  // used when count_ == 0
  uint64_t count_;
};

// Indices of the k largest |x_i|, increasing; ties at the k-th magnitude
// keep the smallest indices. O(d): a threshold estimated from a strided
// sample, one vectorized filtering pass, an exact select among the few
// survivors (a histogram select when the sample misleads).
// REQUIRES: every x_i finite, k <= x.size().
std::vector<uint32_t> TopKIndices(std::span<const float> x, size_t k);

// The k indices rand-k keeps for (ctx.seed, ctx.sender, ctx.step),
// increasing; uniform over all k-subsets (Floyd's sampling).
// REQUIRES: k <= dim <= kMaxCodecDimension.
std::vector<uint32_t> RandKIndices(size_t dim, size_t k, const CodecContext& ctx);

class TopKCodec final : public Codec {
 public:
  // `values` encodes the kept values; nullptr means fp32.
  TopKCodec(SparsityLevel level, std::unique_ptr<Codec> values);

  CodecId id() const override { return CodecId::kTopK; }
  std::string name() const override;
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
  Status DecodeSparse(std::span<const uint8_t> frame, const CodecContext& ctx,
                      size_t dim, SparseUpdate& out) const override;

 private:
  const SparsityLevel level_;
  const std::unique_ptr<Codec> values_;
};

enum class RandKScaling : uint8_t { kNone = 0, kUnbiased = 1 };

class RandKCodec final : public Codec {
 public:
  // `values` encodes the kept values; nullptr means fp32.
  RandKCodec(SparsityLevel level, RandKScaling scaling, std::unique_ptr<Codec> values);

  CodecId id() const override { return CodecId::kRandK; }
  std::string name() const override;
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
  Status DecodeSparse(std::span<const uint8_t> frame, const CodecContext& ctx,
                      size_t dim, SparseUpdate& out) const override;

 private:
  const SparsityLevel level_;
  const RandKScaling scaling_;
  const std::unique_ptr<Codec> values_;
};

}  // namespace murmur
