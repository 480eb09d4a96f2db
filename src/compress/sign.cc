#include "murmur/compress/sign.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "compress/simd.h"
#include "compress/wire.h"

namespace murmur {
namespace {

using compress_internal::FrameReader;

// Sum of |x_i| in double with eight partial sums in a fixed order: fast and
// the same on every machine.
MURMUR_MULTIVERSION
double SumAbs(const float* x, size_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += std::abs(static_cast<double>(x[i + k]));
  }
  double total = 0;
  for (; i < n; ++i) total += std::abs(static_cast<double>(x[i]));
  for (int k = 0; k < 8; ++k) total += acc[k];
  return total;
}

MURMUR_MULTIVERSION
void PackSigns(const float* x, size_t n, uint8_t* out) {
  const size_t full = n / 8;
  for (size_t j = 0; j < full; ++j) {
    uint32_t b = 0;
    for (int k = 0; k < 8; ++k) {
      uint32_t bits;
      std::memcpy(&bits, x + 8 * j + k, 4);
      b |= (bits >> 31) << k;
    }
    out[j] = static_cast<uint8_t>(b);
  }
  if (n % 8 != 0) {
    uint32_t b = 0;
    for (size_t i = 8 * full; i < n; ++i) {
      uint32_t bits;
      std::memcpy(&bits, x + i, 4);
      b |= (bits >> 31) << (i - 8 * full);
    }
    out[full] = static_cast<uint8_t>(b);
  }
}

MURMUR_MULTIVERSION
void UnpackSigns(const uint8_t* in, size_t n, float scale, float* out) {
  const uint32_t magnitude = std::bit_cast<uint32_t>(scale);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t sign = static_cast<uint32_t>((in[i / 8] >> (i % 8)) & 1u) << 31;
    const uint32_t bits = magnitude | sign;
    std::memcpy(out + i, &bits, 4);
  }
}

}  // namespace

size_t ScaledSignCodec::MaxEncodedSize(size_t dim) const {
  return compress_internal::HeaderSize(dim) + 4 + (dim + 7) / 8;
}

Status ScaledSignCodec::Encode(std::span<const float> x, const CodecContext&,
                               ByteWriter& out) const {
  MURMUR_RETURN_IF_ERROR(compress_internal::CheckEncodable(x, "sign"));
  const size_t d = x.size();
  const float scale =
      d == 0 ? 0.0f : static_cast<float>(SumAbs(x.data(), d) / static_cast<double>(d));
  compress_internal::WriteHeader(out, id(), d);
  out.WriteF32(scale);
  constexpr size_t kChunkValues = 8 * 4096;
  uint8_t chunk[kChunkValues / 8];
  for (size_t i = 0; i < d; i += kChunkValues) {
    const size_t n = std::min(kChunkValues, d - i);
    PackSigns(x.data() + i, n, chunk);
    out.WriteBytes(std::span<const uint8_t>(chunk, (n + 7) / 8));
  }
  return Status::Ok();
}

Status ScaledSignCodec::Decode(std::span<const uint8_t> frame,
                               const CodecContext&, std::span<float> out) const {
  FrameReader in(frame, "sign");
  const size_t d = out.size();
  MURMUR_RETURN_IF_ERROR(in.Header(id(), d));
  MURMUR_ASSIGN_OR_RETURN(float scale, in.Scale("scale"));
  const size_t n_bytes = (d + 7) / 8;
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> payload, in.Bytes(n_bytes, "signs"));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  if (d % 8 != 0 && (payload[n_bytes - 1] >> (d % 8)) != 0) {
    return Status::Corrupt("sign frame: non-zero padding bits");
  }
  UnpackSigns(payload.data(), d, scale, out.data());
  return Status::Ok();
}

}  // namespace murmur
