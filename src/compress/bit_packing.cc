#include "murmur/compress/bit_packing.h"

#include "murmur/core/check.h"

namespace murmur {

void PackBits(std::span<const uint32_t> values, int bits, ByteWriter& out) {
  MURMUR_CHECK(bits >= 1 && bits <= 32);
  uint64_t acc = 0;
  int acc_bits = 0;
  for (uint32_t v : values) {
    MURMUR_CHECK((v & ~RingMask(bits)) == 0);
    acc |= uint64_t{v} << acc_bits;
    acc_bits += bits;
    while (acc_bits >= 8) {
      out.WriteU8(static_cast<uint8_t>(acc));
      acc >>= 8;
      acc_bits -= 8;
    }
  }
  if (acc_bits > 0) out.WriteU8(static_cast<uint8_t>(acc));
}

Result<std::vector<uint32_t>> UnpackBits(std::span<const uint8_t> packed, size_t count,
                                         int bits) {
  MURMUR_CHECK(bits >= 1 && bits <= 32);
  const uint64_t want = (uint64_t{count} * static_cast<uint64_t>(bits) + 7) / 8;
  if (packed.size() != want) {
    return Status::Corrupt("packed values: ", packed.size(), " bytes where ", want,
                           " hold ", count, " values of ", bits, " bits");
  }
  std::vector<uint32_t> out(count);
  uint64_t acc = 0;
  int acc_bits = 0;
  size_t next = 0;
  const uint32_t mask = RingMask(bits);
  for (uint32_t& v : out) {
    while (acc_bits < bits) {
      acc |= uint64_t{packed[next++]} << acc_bits;
      acc_bits += 8;
    }
    v = static_cast<uint32_t>(acc) & mask;
    acc >>= bits;
    acc_bits -= bits;
  }
  // Whatever is left of the last byte is padding, and must be zero: one
  // masked vector has one encoding.
  if (acc != 0) {
    return Status::Corrupt("packed values: nonzero padding bits after ", count,
                           " values of ", bits, " bits");
  }
  return out;
}

}  // namespace murmur
