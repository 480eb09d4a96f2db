// Private wire helpers of compress/: varints, the common frame header and a
// bounds-checked frame reader that hands out sub-spans without copying (the
// core ByteReader reads scalars; codecs need bulk views of packed payloads).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/core/bytes.h"
#include "murmur/core/status.h"

namespace murmur::compress_internal {

inline constexpr size_t kMaxVarintBytes = 10;

inline size_t VarintSize(uint64_t v) {
  // 1 + floor(log2(v) / 7), with v = 0 taking one byte.
  return 1 + (63 - std::countl_zero(v | 1)) / 7;
}

// Writes LEB128 at `p`; returns one past the last byte written.
inline uint8_t* PutVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

inline void WriteVarint(ByteWriter& out, uint64_t v) {
  uint8_t buf[kMaxVarintBytes];
  const uint8_t* end = PutVarint(buf, v);
  out.WriteBytes(std::span<const uint8_t>(buf, end));
}

inline size_t HeaderSize(size_t dim) { return 1 + VarintSize(dim); }

inline void WriteHeader(ByteWriter& out, CodecId id, size_t dim) {
  out.WriteU8(static_cast<uint8_t>(id));
  WriteVarint(out, dim);
}

std::string_view CodecIdName(uint8_t id);

// Reads one frame. Every accessor checks bounds and returns kCorrupt naming
// the codec, the field and the offset.
class FrameReader {
 public:
  FrameReader(std::span<const uint8_t> data, const char* codec)
      : data_(data), codec_(codec) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }

  Result<uint8_t> U8(const char* field) {
    if (remaining() < 1) return Truncated(field, 1);
    return data_[pos_++];
  }

  Result<float> F32(const char* field) {
    if (remaining() < 4) return Truncated(field, 4);
    float v;
    std::memcpy(&v, data_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }

  // A finite float >= 0 (scales, norms).
  Result<float> Scale(const char* field) {
    MURMUR_ASSIGN_OR_RETURN(float v, F32(field));
    if (!std::isfinite(v) || std::signbit(v)) {
      return Status::Corrupt(codec_, " frame: ", field, " ", v,
                             " is not a finite non-negative scale");
    }
    return v;
  }

  // LEB128, at most 10 bytes, no overflow, value <= max.
  Result<uint64_t> Varint(const char* field, uint64_t max) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (remaining() < 1) return Truncated(field, 1);
      const uint8_t b = data_[pos_++];
      if (shift == 63 && b > 1) break;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) break;  // over-long: not the canonical form
        if (v > max) {
          return Status::Corrupt(codec_, " frame: ", field, " ", v,
                                 " exceeds limit ", max);
        }
        return v;
      }
    }
    return Status::Corrupt(codec_, " frame: ", field, " is a malformed varint at offset ",
                           pos_);
  }

  Result<std::span<const uint8_t>> Bytes(size_t n, const char* field) {
    if (remaining() < n) return Truncated(field, n);
    std::span<const uint8_t> s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  std::span<const uint8_t> Rest() {
    std::span<const uint8_t> s = data_.subspan(pos_);
    pos_ = data_.size();
    return s;
  }

  Status ExpectEnd() const {
    if (remaining() != 0) {
      return Status::Corrupt(codec_, " frame: ", remaining(),
                             " unexpected trailing bytes at offset ", pos_);
    }
    return Status::Ok();
  }

  // Reads the common header and checks it against what the receiver expects.
  Status Header(CodecId expected, size_t expected_dim) {
    MURMUR_ASSIGN_OR_RETURN(uint8_t id, U8("codec id"));
    if (id != static_cast<uint8_t>(expected)) {
      return Status::Corrupt(codec_, " frame: codec id ", +id, " (",
                             CodecIdName(id), ") where ",
                             CodecIdName(static_cast<uint8_t>(expected)),
                             " was expected");
    }
    MURMUR_ASSIGN_OR_RETURN(uint64_t dim, Varint("dimension", kMaxCodecDimension));
    if (dim != expected_dim) {
      return Status::Corrupt(codec_, " frame: dimension ", dim, " where ",
                             expected_dim, " was expected");
    }
    return Status::Ok();
  }

  const char* codec() const { return codec_; }

 private:
  Status Truncated(const char* field, size_t need) const {
    return Status::Corrupt(codec_, " frame truncated: need ", need,
                           " bytes for ", field, " at offset ", pos_, ", have ",
                           remaining());
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  const char* codec_;
};

// kInvalidArgument unless every value is finite and the dimension fits a
// frame. One vectorizable pass.
Status CheckEncodable(std::span<const float> x, const char* codec);

// kCorrupt unless every value is finite.
Status CheckDecodedFinite(std::span<const float> x, const char* codec);

// An uninitialized byte buffer (codecs overwrite every byte they use).
inline std::unique_ptr<uint8_t[]> ScratchBytes(size_t n) {
  return std::make_unique_for_overwrite<uint8_t[]>(n == 0 ? 1 : n);
}

}  // namespace murmur::compress_internal
