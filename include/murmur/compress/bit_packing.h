// Unsigned values of `bits` bits each, packed LSB first into bytes: the
// wire form of RQM's level indices (compress/rqm.h, and so of the "rqm"
// codec) and of SecAgg's masked ring elements (privacy/secagg.h).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/bytes.h"
#include "murmur/core/status.h"

namespace murmur {

// 2^bits - 1 (all ones at 32).
inline uint32_t RingMask(int bits) {
  return bits >= 32 ? 0xffffffffu : (uint32_t{1} << bits) - 1;
}

// Values of `bits` bits each (1 .. 32), packed LSB first and
// zero-padded to a byte: ceil(bits * values.size() / 8) bytes. At 32 bits,
// little-endian u32s. REQUIRES: every value < 2^bits.
void PackBits(std::span<const uint32_t> values, int bits, ByteWriter& out);
// The inverse; kCorrupt unless `packed` is exactly ceil(bits * count / 8)
// bytes with zero padding bits. Allocates count values only after the
// length check.
Result<std::vector<uint32_t>> UnpackBits(std::span<const uint8_t> packed, size_t count, int bits);

}  // namespace murmur
