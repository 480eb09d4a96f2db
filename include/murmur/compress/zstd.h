// Lossless zstd on top of any codec (Collet and Kucherawy, 2021, RFC 8878,
// "Zstandard Compression and the application/zstd Media Type"). Pays off on
// frames with redundancy left in them: quantized codes, index gaps, sign
// bitmaps; little on raw fp32.
//
// Frame: header | one zstd frame whose content is the inner codec's frame.
// The decoder reads the zstd frame's declared content size first and
// rejects it (kCorrupt) unless it is known and at most the inner codec's
// MaxEncodedSize(dim), so a peer cannot make it allocate more than an honest
// frame needs; then it requires exactly one zstd frame, exactly the declared
// size, and a valid inner frame. Stateless and thread-safe (a compression
// context per call).
#pragma once

#include <memory>

#include "murmur/compress/codec.h"

namespace murmur {

class ZstdCodec final : public Codec {
 public:
  static constexpr int kDefaultLevel = 1;
  static constexpr int kMinLevel = 1;
  static constexpr int kMaxLevel = 22;

  // REQUIRES: inner != nullptr, kMinLevel <= level <= kMaxLevel.
  ZstdCodec(std::unique_ptr<Codec> inner, int level);

  CodecId id() const override { return CodecId::kZstd; }
  std::string name() const override;
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
  Status DecodeSparse(std::span<const uint8_t> frame, const CodecContext& ctx,
                      size_t dim, SparseUpdate& out) const override;

 private:
  // Decompresses the inner frame of a frame of dimension `dim`.
  Result<std::vector<uint8_t>> Inflate(std::span<const uint8_t> frame, size_t dim) const;

  const std::unique_ptr<Codec> inner_;
  const int level_;
};

}  // namespace murmur
