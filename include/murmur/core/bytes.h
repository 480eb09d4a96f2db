// Bounds-checked little-endian byte writer and reader: the only way protocol
// messages become bytes and back. The reader never reads past its span and
// reports short or malformed input as kCorrupt, so bad bytes from a peer can
// never crash a process.
#pragma once

#include <cstdint>
#include <bit>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

static_assert(std::endian::native == std::endian::little,
              "murmur's wire format is little-endian; big-endian hosts need "
              "byte swapping in ByteWriter/ByteReader");

// Appends to an owned byte vector. Not thread-safe.
class ByteWriter {
 public:
  ByteWriter() = default;
  explicit ByteWriter(size_t reserve) { bytes_.reserve(reserve); }

  void WriteU8(uint8_t v) { bytes_.push_back(v); }
  void WriteU32(uint32_t v) { WriteRaw(&v, sizeof v); }
  void WriteU64(uint64_t v) { WriteRaw(&v, sizeof v); }
  void WriteF32(float v) { WriteRaw(&v, sizeof v); }
  void WriteF64(double v) { WriteRaw(&v, sizeof v); }
  // Length-prefixed (u32 count) float array.
  void WriteFloats(std::span<const float> values) {
    WriteU32(static_cast<uint32_t>(values.size()));
    WriteRaw(values.data(), values.size_bytes());
  }
  void WriteBytes(std::span<const uint8_t> data) {
    WriteRaw(data.data(), data.size());
  }

  size_t size() const { return bytes_.size(); }
  std::vector<uint8_t> Take() && { return std::move(bytes_); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  void WriteRaw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  std::vector<uint8_t> bytes_;
};

// Reads from a borrowed span; the span must outlive the reader.
class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  Result<uint8_t> ReadU8() { return ReadPod<uint8_t>("u8"); }
  Result<uint32_t> ReadU32() { return ReadPod<uint32_t>("u32"); }
  Result<uint64_t> ReadU64() { return ReadPod<uint64_t>("u64"); }
  Result<float> ReadF32() { return ReadPod<float>("f32"); }
  Result<double> ReadF64() { return ReadPod<double>("f64"); }

  // Reads a length-prefixed float array into `out`, whose size must match
  // the prefix exactly. Returns kCorrupt on a length mismatch or short input;
  // `out` is untouched on failure.
  Status ReadFloatsInto(std::span<float> out) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t n, ReadU32());
    if (n != out.size()) {
      return Status::Corrupt("float array of ", n, " values where ",
                             out.size(), " were expected");
    }
    if (remaining() < out.size_bytes()) {
      return Status::Corrupt("float array of ", n, " values truncated: ",
                             remaining(), " bytes left");
    }
    // An empty span's data() may be null, and memcpy(nullptr, ..., 0) is
    // undefined behaviour.
    if (!out.empty()) std::memcpy(out.data(), data_.data() + pos_, out.size_bytes());
    pos_ += out.size_bytes();
    return Status::Ok();
  }

  // Reads a length-prefixed float array whose length must not exceed
  // `max_count`.
  Result<std::vector<float>> ReadFloats(size_t max_count) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t n, ReadU32());
    if (n > max_count) {
      return Status::Corrupt("float array of ", n, " values exceeds limit ",
                             max_count);
    }
    if (remaining() < n * sizeof(float)) {
      return Status::Corrupt("float array of ", n, " values truncated: ",
                             remaining(), " bytes left");
    }
    std::vector<float> out(n);
    if (n > 0) std::memcpy(out.data(), data_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return out;
  }

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  // kCorrupt unless every byte was consumed (trailing garbage is an error).
  Status ExpectEnd() const {
    if (remaining() != 0) {
      return Status::Corrupt(remaining(), " unexpected trailing bytes");
    }
    return Status::Ok();
  }

 private:
  template <typename T>
  Result<T> ReadPod(const char* what) {
    if (remaining() < sizeof(T)) {
      return Status::Corrupt("truncated input: need ", sizeof(T),
                             " bytes for ", what, " at offset ", pos_,
                             ", have ", remaining());
    }
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace murmur
