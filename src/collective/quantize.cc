#include "murmur/collective/quantize.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/check.h"

namespace murmur::collective {

bool ValidQuantBits(int bits) { return bits == 4 || bits == 8; }

size_t QuantizedBytes(size_t count, int bits) {
  MURMUR_CHECK(ValidQuantBits(bits));
  return bits == 8 ? count : (count + 1) / 2;
}

QuantBlock Quantize(std::span<const float> values, int bits, std::span<uint8_t> codes) {
  MURMUR_CHECK(codes.size() == QuantizedBytes(values.size(), bits));
  float lo = INFINITY;
  float hi = -INFINITY;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (lo > hi) lo = hi = 0;  // empty, or nothing finite
  const auto levels = static_cast<float>((1 << bits) - 1);
  float scale = (hi - lo) / levels;
  if (!std::isfinite(scale) || scale <= 0) scale = 0;
  std::fill(codes.begin(), codes.end(), uint8_t{0});
  for (size_t i = 0; i < values.size(); ++i) {
    float q = 0;
    if (scale > 0 && std::isfinite(values[i])) {
      q = std::clamp(std::floor((values[i] - lo) / scale + 0.5f), 0.0f, levels);
    }
    const auto code = static_cast<uint8_t>(q);
    if (bits == 8) {
      codes[i] = code;
    } else {
      codes[i / 2] |= static_cast<uint8_t>(i % 2 == 0 ? code : code << 4);
    }
  }
  return {lo, scale};
}

void Dequantize(QuantBlock block, int bits, std::span<const uint8_t> codes,
                std::span<float> out) {
  MURMUR_CHECK(codes.size() == QuantizedBytes(out.size(), bits));
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t code = bits == 8 ? codes[i]
                                   : static_cast<uint8_t>(i % 2 == 0 ? codes[i / 2] & 0x0f
                                                                     : codes[i / 2] >> 4);
    out[i] = block.lo + static_cast<float>(code) * block.scale;
  }
}

}  // namespace murmur::collective
