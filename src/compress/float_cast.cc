#include "murmur/compress/float_cast.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "compress/simd.h"
#include "compress/wire.h"

namespace murmur {
namespace {

using compress_internal::CheckEncodable;
using compress_internal::FrameReader;
using compress_internal::HeaderSize;
using compress_internal::WriteHeader;

constexpr float kHalfMax = 65504.0f;
constexpr size_t kChunkValues = 4096;
constexpr uint16_t kBf16MaxBits = 0x7f7f;

// Branch-free so the loops below vectorize. The float -> half rounding uses
// the FPU's own round-to-nearest-even: adding a power of two whose ulp equals
// the target half's ulp rounds the significand in one IEEE addition
// (technique of Maratyszcza's FP16 library).
inline uint16_t HalfFromFloat(float f) {
  f = f < -kHalfMax ? -kHalfMax : f;
  f = f > kHalfMax ? kHalfMax : f;
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xff000000u;
  bias = bias < 0x71000000u ? 0x71000000u : bias;
  const float abs_f = std::bit_cast<float>(w & 0x7fffffffu);
  float base = (abs_f * 0x1.0p+112f) * 0x1.0p-110f;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007c00u;
  const uint32_t mantissa_bits = bits & 0x00000fffu;
  return static_cast<uint16_t>((sign >> 16) | (exp_bits + mantissa_bits));
}

inline float FloatFromHalf(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const float normalized =
      std::bit_cast<float>((two_w >> 4) + (0xe0u << 23)) * 0x1.0p-112f;
  const float denormalized =
      std::bit_cast<float>((two_w >> 17) | (126u << 23)) - 0.5f;
  const uint32_t magnitude = two_w < (1u << 27) ? std::bit_cast<uint32_t>(denormalized)
                                                : std::bit_cast<uint32_t>(normalized);
  return std::bit_cast<float>(sign | magnitude);
}

inline uint16_t Bf16FromFloat(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  u += 0x7fffu + ((u >> 16) & 1u);
  uint16_t b = static_cast<uint16_t>(u >> 16);
  // Rounding up from the largest finite bfloat16 gives infinity: saturate.
  const uint16_t sat = static_cast<uint16_t>((b & 0x8000u) | kBf16MaxBits);
  return (b & 0x7fffu) == 0x7f80u ? sat : b;
}

// Portable loops (they do not vectorize: the rounding trick needs float
// compares GCC will not if-convert); the F16C versions below replace them
// on every x86 CPU since 2013.
void HalfEncodePortable(const float* x, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t h = HalfFromFloat(x[i]);
    std::memcpy(out + 2 * i, &h, 2);
  }
}

// Returns nonzero if any half encodes infinity or NaN.
uint32_t HalfDecodePortable(const uint8_t* in, size_t n, float* out) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, 2);
    bad |= static_cast<uint32_t>((h & 0x7c00u) == 0x7c00u);
    out[i] = FloatFromHalf(h);
  }
  return bad;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MURMUR_HAVE_F16C_PATH 1

// vcvtps2ph with an explicit round-to-nearest-even immediate is IEEE
// binary32 -> binary16 conversion, subnormals included: the same function
// as HalfFromFloat (tests compare them on every half and every midpoint).
__attribute__((target("avx2,f16c"))) void HalfEncodeF16c(const float* x, size_t n,
                                                        uint8_t* out) {
  const __m256 hi = _mm256_set1_ps(kHalfMax);
  const __m256 lo = _mm256_set1_ps(-kHalfMax);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), h);
  }
  HalfEncodePortable(x + i, n - i, out + 2 * i);
}

__attribute__((target("avx2,f16c"))) uint32_t HalfDecodeF16c(const uint8_t* in, size_t n,
                                                            float* out) {
  const __m128i exp_mask = _mm_set1_epi16(0x7c00);
  __m128i bad = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi16(_mm_and_si128(h, exp_mask), exp_mask));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  return static_cast<uint32_t>(_mm_movemask_epi8(bad)) |
         HalfDecodePortable(in + 2 * i, n - i, out + i);
}

bool HasF16c() {
  // Clang's __builtin_cpu_supports does not know "f16c": ask CPUID (leaf 1,
  // ECX bit 29); the AVX2 check covers the OS saving ymm registers.
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    return __builtin_cpu_supports("avx2") && (ecx & bit_F16C) != 0;
  }();
  return has;
}
#endif

void HalfEncodeLoop(const float* x, size_t n, uint8_t* out) {
#ifdef MURMUR_HAVE_F16C_PATH
  if (HasF16c()) return HalfEncodeF16c(x, n, out);
#endif
  HalfEncodePortable(x, n, out);
}

uint32_t HalfDecodeLoop(const uint8_t* in, size_t n, float* out) {
#ifdef MURMUR_HAVE_F16C_PATH
  if (HasF16c()) return HalfDecodeF16c(in, n, out);
#endif
  return HalfDecodePortable(in, n, out);
}

MURMUR_MULTIVERSION
void Bf16EncodeLoop(const float* x, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t b = Bf16FromFloat(x[i]);
    std::memcpy(out + 2 * i, &b, 2);
  }
}

MURMUR_MULTIVERSION
uint32_t Bf16DecodeLoop(const uint8_t* in, size_t n, float* out) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, in + 2 * i, 2);
    bad |= static_cast<uint32_t>((b & 0x7f80u) == 0x7f80u);
    out[i] = std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
  }
  return bad;
}

MURMUR_MULTIVERSION
uint32_t Fp32DecodeLoop(const uint8_t* in, size_t n, float* out) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, in + 4 * i, 4);
    bad |= static_cast<uint32_t>((bits & 0x7fffffffu) >= 0x7f800000u);
    std::memcpy(out + i, &bits, 4);
  }
  return bad;
}

Status FirstBadHalf(std::span<const uint8_t> payload, const char* codec,
                    uint16_t exp_mask) {
  for (size_t i = 0; i + 1 < payload.size(); i += 2) {
    uint16_t h;
    std::memcpy(&h, payload.data() + i, 2);
    if ((h & exp_mask) == exp_mask) {
      return Status::Corrupt(codec, " frame: value ", i / 2,
                             " encodes infinity or NaN (bits 0x", std::hex, h,
                             ")");
    }
  }
  return Status::Corrupt(codec, " frame: non-finite value");
}

}  // namespace

uint16_t FloatToHalf(float f) { return HalfFromFloat(f); }
float HalfToFloat(uint16_t h) { return FloatFromHalf(h); }
uint16_t FloatToBf16(float f) { return Bf16FromFloat(f); }
float Bf16ToFloat(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

size_t Fp32Codec::MaxEncodedSize(size_t dim) const {
  return HeaderSize(dim) + 4 * dim;
}

Status Fp32Codec::Encode(std::span<const float> x, const CodecContext&,
                         ByteWriter& out) const {
  MURMUR_RETURN_IF_ERROR(CheckEncodable(x, "fp32"));
  WriteHeader(out, id(), x.size());
  out.WriteBytes(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(x.data()), x.size_bytes()));
  return Status::Ok();
}

Status Fp32Codec::Decode(std::span<const uint8_t> frame, const CodecContext&,
                         std::span<float> out) const {
  FrameReader in(frame, "fp32");
  MURMUR_RETURN_IF_ERROR(in.Header(id(), out.size()));
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> payload,
                          in.Bytes(4 * out.size(), "values"));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  if (Fp32DecodeLoop(payload.data(), out.size(), out.data()) != 0) {
    return compress_internal::CheckDecodedFinite(out, "fp32");
  }
  return Status::Ok();
}

size_t Fp16Codec::MaxEncodedSize(size_t dim) const {
  return HeaderSize(dim) + 2 * dim;
}

Status Fp16Codec::Encode(std::span<const float> x, const CodecContext&,
                         ByteWriter& out) const {
  MURMUR_RETURN_IF_ERROR(CheckEncodable(x, "fp16"));
  WriteHeader(out, id(), x.size());
  // Convert in cache-sized chunks straight into `out`: no frame-sized
  // scratch buffer.
  uint8_t chunk[2 * kChunkValues];
  for (size_t i = 0; i < x.size(); i += kChunkValues) {
    const size_t n = std::min(kChunkValues, x.size() - i);
    HalfEncodeLoop(x.data() + i, n, chunk);
    out.WriteBytes(std::span<const uint8_t>(chunk, 2 * n));
  }
  return Status::Ok();
}

Status Fp16Codec::Decode(std::span<const uint8_t> frame, const CodecContext&,
                         std::span<float> out) const {
  FrameReader in(frame, "fp16");
  MURMUR_RETURN_IF_ERROR(in.Header(id(), out.size()));
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> payload,
                          in.Bytes(2 * out.size(), "values"));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  if (HalfDecodeLoop(payload.data(), out.size(), out.data()) != 0) {
    return FirstBadHalf(payload, "fp16", 0x7c00);
  }
  return Status::Ok();
}

size_t Bf16Codec::MaxEncodedSize(size_t dim) const {
  return HeaderSize(dim) + 2 * dim;
}

Status Bf16Codec::Encode(std::span<const float> x, const CodecContext&,
                         ByteWriter& out) const {
  MURMUR_RETURN_IF_ERROR(CheckEncodable(x, "bf16"));
  WriteHeader(out, id(), x.size());
  uint8_t chunk[2 * kChunkValues];
  for (size_t i = 0; i < x.size(); i += kChunkValues) {
    const size_t n = std::min(kChunkValues, x.size() - i);
    Bf16EncodeLoop(x.data() + i, n, chunk);
    out.WriteBytes(std::span<const uint8_t>(chunk, 2 * n));
  }
  return Status::Ok();
}

Status Bf16Codec::Decode(std::span<const uint8_t> frame, const CodecContext&,
                         std::span<float> out) const {
  FrameReader in(frame, "bf16");
  MURMUR_RETURN_IF_ERROR(in.Header(id(), out.size()));
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> payload,
                          in.Bytes(2 * out.size(), "values"));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  if (Bf16DecodeLoop(payload.data(), out.size(), out.data()) != 0) {
    return FirstBadHalf(payload, "bf16", 0x7f80);
  }
  return Status::Ok();
}

}  // namespace murmur
