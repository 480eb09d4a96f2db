#include "murmur/compress/quantize.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "compress/philox.h"
#include "compress/simd.h"
#include "compress/wire.h"

namespace murmur {
namespace {

using compress_internal::FrameReader;
using compress_internal::HeaderSize;
using compress_internal::VarintSize;

// Chunk of values quantized together: a multiple of 8 (whole bytes at 2 bits
// and whole Philox blocks of 8 random halfwords).
constexpr size_t kChunk = 4096;

MURMUR_MULTIVERSION
uint32_t MaxAbsBits(const float* x, size_t n) {
  uint32_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, 4);
    bits &= 0x7fffffffu;
    m = bits > m ? bits : m;
  }
  return m;
}

// floor(v) with a truncating conversion (vectorizes without SSE4.1).
// REQUIRES: |v| < 2^31.
MURMUR_FP_INLINE float FloorSmall(float v) {
  const float t = static_cast<float>(static_cast<int32_t>(v));
  return t - static_cast<float>(v < t);
}

// The loops below are branch-free (comparisons become 0/1 values): random
// rounding decisions would defeat a branch predictor, and the compiler only
// vectorizes if-free float code.
MURMUR_MULTIVERSION_FP
void QuantizeStochastic(const float* __restrict x, size_t n, float inv, float s,
                        const uint16_t* __restrict rnd, uint8_t* __restrict codes) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i] * inv;
    const float fl = FloorSmall(v);
    const float frac = v - fl;  // exact for |v| >= 1, else off by < 2^-24
    const float u = static_cast<float>(static_cast<int32_t>(rnd[i])) * 0x1.0p-16f;
    float q = fl + static_cast<float>(u < frac);
    q = q < -s ? -s : q;
    q = q > s ? s : q;
    codes[i] = static_cast<uint8_t>(static_cast<int32_t>(q + s));
  }
}

MURMUR_MULTIVERSION_FP
void QuantizeNearest(const float* __restrict x, size_t n, float inv, float s,
                     uint8_t* __restrict codes) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i] * inv;
    const float fl = FloorSmall(v);
    const float frac = v - fl;
    float q = fl + static_cast<float>(frac >= 0.5f);
    q = q < -s ? -s : q;
    q = q > s ? s : q;
    codes[i] = static_cast<uint8_t>(static_cast<int32_t>(q + s));
  }
}

// A bucket whose scale is so small that s / scale overflows: divide instead.
MURMUR_NO_TRAPPING_MATH void QuantizeTinyScale(const float* x, size_t n, float scale, float s,
                       const uint16_t* rnd, Rounding rounding, uint8_t* codes) {
  for (size_t i = 0; i < n; ++i) {
    const float v = (x[i] / scale) * s;
    const float fl = FloorSmall(v);
    const float frac = v - fl;
    const bool up = rounding == Rounding::kStochastic
                        ? static_cast<float>(rnd[i]) * 0x1.0p-16f < frac
                        : frac >= 0.5f;
    float q = up ? fl + 1.0f : fl;
    q = std::min(std::max(q, -s), s);
    codes[i] = static_cast<uint8_t>(static_cast<int32_t>(q + s));
  }
}

MURMUR_MULTIVERSION
void Pack4(const uint8_t* codes, size_t n, uint8_t* out) {
  const size_t pairs = n / 2;
  for (size_t j = 0; j < pairs; ++j) {
    out[j] = static_cast<uint8_t>(codes[2 * j] | (codes[2 * j + 1] << 4));
  }
  if (n % 2 != 0) out[pairs] = codes[n - 1];
}

MURMUR_MULTIVERSION
void Pack2(const uint8_t* codes, size_t n, uint8_t* out) {
  const size_t quads = n / 4;
  for (size_t j = 0; j < quads; ++j) {
    out[j] = static_cast<uint8_t>(codes[4 * j] | (codes[4 * j + 1] << 2) |
                                  (codes[4 * j + 2] << 4) |
                                  (codes[4 * j + 3] << 6));
  }
  if (n % 4 != 0) {
    uint8_t b = 0;
    for (size_t i = 4 * quads; i < n; ++i) b |= codes[i] << (2 * (i - 4 * quads));
    out[quads] = b;
  }
}

MURMUR_MULTIVERSION
void Unpack4(const uint8_t* in, size_t n, uint8_t* codes) {
  const size_t pairs = n / 2;
  for (size_t j = 0; j < pairs; ++j) {
    codes[2 * j] = in[j] & 0x0f;
    codes[2 * j + 1] = in[j] >> 4;
  }
  if (n % 2 != 0) codes[n - 1] = in[pairs] & 0x0f;
}

MURMUR_MULTIVERSION
void Unpack2(const uint8_t* in, size_t n, uint8_t* codes) {
  const size_t quads = n / 4;
  for (size_t j = 0; j < quads; ++j) {
    codes[4 * j] = in[j] & 3;
    codes[4 * j + 1] = (in[j] >> 2) & 3;
    codes[4 * j + 2] = (in[j] >> 4) & 3;
    codes[4 * j + 3] = in[j] >> 6;
  }
  for (size_t i = 4 * quads; i < n; ++i) codes[i] = (in[quads] >> (2 * (i - 4 * quads))) & 3;
}

MURMUR_MULTIVERSION_FP
void Dequantize(const uint8_t* codes, size_t n, float step, int32_t s,
                float* out) {
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(static_cast<int32_t>(codes[i]) - s) * step;
  }
}

// Nonzero if any code (as packed) is the unused value 2s + 1 = all ones.
MURMUR_MULTIVERSION
uint32_t HasAllOnesCode(const uint8_t* p, size_t n_bytes, int bits) {
  uint32_t bad = 0;
  if (bits == 8) {
    for (size_t i = 0; i < n_bytes; ++i) bad |= static_cast<uint32_t>(p[i] == 0xff);
  } else if (bits == 4) {
    for (size_t i = 0; i < n_bytes; ++i) {
      bad |= static_cast<uint32_t>((p[i] & 0x0f) == 0x0f) |
             static_cast<uint32_t>((p[i] & 0xf0) == 0xf0);
    }
  } else {
    for (size_t i = 0; i < n_bytes; ++i) bad |= (p[i] & (p[i] >> 1) & 0x55u);
  }
  return bad;
}

// Below this scale, scale / s is not a normal float.
constexpr float kMinFastScale = 1e-30f;

size_t CodeBytes(size_t dim, int bits) { return (dim * bits + 7) / 8; }

}  // namespace

QsgdCodec::QsgdCodec(QsgdOptions options)
    : options_(options), levels_((1 << (options.bits - 1)) - 1) {
  MURMUR_CHECK(options.bits == 2 || options.bits == 4 || options.bits == 8);
}

std::string QsgdCodec::name() const {
  std::string n = "int" + std::to_string(options_.bits);
  const QsgdOptions defaults;
  std::string args;
  if (options_.block != defaults.block) args += "block=" + std::to_string(options_.block);
  if (options_.rounding != defaults.rounding) {
    if (!args.empty()) args += ",";
    args += "round=nearest";
  }
  return args.empty() ? n : n + ":" + args;
}

size_t QsgdCodec::BlockSize(size_t dim) const {
  if (options_.block != 0) return options_.block;
  return dim == 0 ? 1 : dim;
}

size_t QsgdCodec::MaxEncodedSize(size_t dim) const {
  const size_t block = BlockSize(dim);
  const size_t n_blocks = (dim + block - 1) / block;
  return HeaderSize(dim) + 1 + VarintSize(options_.block) + 4 * n_blocks +
         CodeBytes(dim, options_.bits);
}

Status QsgdCodec::Encode(std::span<const float> x, const CodecContext& ctx,
                         ByteWriter& out) const {
  const char* codec = "qsgd";
  if (x.size() > kMaxCodecDimension) {
    return compress_internal::CheckEncodable(x, codec);
  }
  const size_t d = x.size();
  const size_t block = BlockSize(d);
  const size_t n_blocks = (d + block - 1) / block;
  std::vector<float> scales(n_blocks);
  for (size_t b = 0; b < n_blocks; ++b) {
    const size_t begin = b * block;
    const size_t len = std::min(block, d - begin);
    const uint32_t m = MaxAbsBits(x.data() + begin, len);
    if (m >= 0x7f800000u) {
      return compress_internal::CheckEncodable(x.subspan(begin, len), codec);
    }
    scales[b] = std::bit_cast<float>(m);
    const float s = static_cast<float>(levels_);
    if (!std::isfinite(s * (scales[b] / s))) {
      return Status::InvalidArgument("qsgd encode: bucket ", b, " scale ", scales[b],
                                     " is too close to the float limit to decode");
    }
  }

  const int bits = options_.bits;
  const float s = static_cast<float>(levels_);
  compress_internal::WriteHeader(out, id(), d);
  out.WriteU8(static_cast<uint8_t>(bits));
  compress_internal::WriteVarint(out, options_.block);
  out.WriteBytes(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(scales.data()), 4 * n_blocks));
  // Codes go out chunk by chunk (no frame-sized scratch buffer).
  // 16 random bits per value: word w of the stream gives values 2w (low
  // half) and 2w + 1 (high half).
  uint32_t words[kChunk / 2];
  uint16_t rnd[kChunk];
  uint8_t codes[kChunk];
  uint8_t packed[kChunk / 2];
  const bool stochastic = options_.rounding == Rounding::kStochastic;
  for (size_t c = 0; c < d; c += kChunk) {
    const size_t len = std::min(kChunk, d - c);
    if (stochastic) {
      compress_internal::PhiloxWords(
          ctx.seed, ctx.sender.value, compress_internal::kRoundingPurpose,
          compress_internal::StepCounter(ctx.step) + c / 8, (len + 7) / 8, words);
      std::memcpy(rnd, words, (len + 7) / 8 * 16);
    }
    // Split the chunk where buckets change.
    for (size_t a = c; a < c + len;) {
      const size_t b = a / block;
      const size_t end = std::min(c + len, (b + 1) * block);
      const float scale = scales[b];
      const float inv = scale == 0.0f ? 0.0f : s / scale;
      const size_t off = a - c;
      if (std::isinf(inv)) {
        QuantizeTinyScale(x.data() + a, end - a, scale, s, rnd + off,
                          options_.rounding, codes + off);
      } else if (stochastic) {
        QuantizeStochastic(x.data() + a, end - a, inv, s, rnd + off, codes + off);
      } else {
        QuantizeNearest(x.data() + a, end - a, inv, s, codes + off);
      }
      a = end;
    }
    if (bits == 8) {
      out.WriteBytes(std::span<const uint8_t>(codes, len));
    } else if (bits == 4) {
      Pack4(codes, len, packed);
      out.WriteBytes(std::span<const uint8_t>(packed, (len + 1) / 2));
    } else {
      Pack2(codes, len, packed);
      out.WriteBytes(std::span<const uint8_t>(packed, (len + 3) / 4));
    }
  }
  return Status::Ok();
}

Status QsgdCodec::Decode(std::span<const uint8_t> frame, const CodecContext&,
                         std::span<float> out) const {
  FrameReader in(frame, "qsgd");
  const size_t d = out.size();
  MURMUR_RETURN_IF_ERROR(in.Header(id(), d));
  MURMUR_ASSIGN_OR_RETURN(uint8_t bits, in.U8("bits"));
  if (bits != options_.bits) {
    return Status::Corrupt("qsgd frame: ", +bits, " bits where ",
                           options_.bits, " were expected");
  }
  MURMUR_ASSIGN_OR_RETURN(uint64_t block_field, in.Varint("block", kMaxCodecDimension));
  if (block_field != options_.block) {
    return Status::Corrupt("qsgd frame: block ", block_field, " where ",
                           options_.block, " was expected");
  }
  const size_t block = BlockSize(d);
  const size_t n_blocks = (d + block - 1) / block;
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> scale_bytes,
                          in.Bytes(4 * n_blocks, "scales"));
  const size_t code_bytes = CodeBytes(d, bits);
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> payload,
                          in.Bytes(code_bytes, "codes"));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());

  std::vector<float> scales(n_blocks);
  if (n_blocks > 0) std::memcpy(scales.data(), scale_bytes.data(), 4 * n_blocks);
  float max_scale = 0;
  for (size_t b = 0; b < n_blocks; ++b) {
    // Rejects negative values (sign bit) and infinities/NaNs in one compare.
    if (std::bit_cast<uint32_t>(scales[b]) >= 0x7f800000u) {
      return Status::Corrupt("qsgd frame: scale ", scales[b], " of bucket ", b,
                             " is not a finite non-negative number");
    }
    max_scale = std::max(max_scale, scales[b]);
  }
  if (HasAllOnesCode(payload.data(), code_bytes, bits) != 0) {
    return Status::Corrupt("qsgd frame: a ", +bits,
                           "-bit code holds the unused value ",
                           (1 << bits) - 1);
  }
  const size_t used_bits = d * bits;
  if (used_bits % 8 != 0 && (payload[code_bytes - 1] >> (used_bits % 8)) != 0) {
    return Status::Corrupt("qsgd frame: non-zero padding bits");
  }

  const int32_t s = levels_;
  uint8_t codes[kChunk];
  for (size_t c = 0; c < d; c += kChunk) {
    const size_t len = std::min(kChunk, d - c);
    const uint8_t* chunk_codes = codes;
    if (bits == 8) chunk_codes = payload.data() + c;
    if (bits == 4) Unpack4(payload.data() + c / 2, len, codes);
    if (bits == 2) Unpack2(payload.data() + c / 4, len, codes);
    for (size_t a = c; a < c + len;) {
      const size_t b = a / block;
      const size_t end = std::min(c + len, (b + 1) * block);
      if (scales[b] >= kMinFastScale) {
        const float step = scales[b] / static_cast<float>(s);
        Dequantize(chunk_codes + (a - c), end - a, step, s, out.data() + a);
      } else {
        // scale / s would lose bits as a subnormal float: go through double.
        const double step = static_cast<double>(scales[b]) / s;
        for (size_t i = a; i < end; ++i) {
          out[i] = static_cast<float>((static_cast<int32_t>(chunk_codes[i - c]) - s) * step);
        }
      }
      a = end;
    }
  }
  // Only a scale near FLT_MAX can round a decoded value up to infinity.
  if (max_scale > 1e38f) {
    return compress_internal::CheckDecodedFinite(out, "qsgd");
  }
  return Status::Ok();
}

}  // namespace murmur
