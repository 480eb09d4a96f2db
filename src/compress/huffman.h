// Canonical Huffman coding of small alphabets (Huffman, 1952, "A Method for
// the Construction of Minimum-Redundancy Codes"; canonical codes as in
// DEFLATE, RFC 1951 section 3.2.2). FEDZIP codes its cluster ids with it.
//
// Only the code lengths travel (one nibble per symbol, lengths <= 15); both
// sides rebuild the same canonical code from them. The decoder accepts only a
// complete prefix code (Kraft sum exactly 1), or a single symbol of length
// 1, so every bit string decodes unambiguously and a corrupt table is
// kCorrupt rather than a wrong decode.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compress/wire.h"
#include "murmur/core/bytes.h"
#include "murmur/core/status.h"

namespace murmur::compress_internal {

inline constexpr int kMaxHuffmanBits = 15;
inline constexpr size_t kMaxHuffmanSymbols = 256;

// Code lengths (0 for unused symbols) of an optimal prefix code for `freqs`,
// limited to `max_bits` by halving frequencies until it fits. Deterministic.
// A single used symbol gets length 1.
// REQUIRES: freqs.size() <= kMaxHuffmanSymbols, 1 <= max_bits <= 15,
// 2^max_bits >= number of used symbols.
std::vector<uint8_t> HuffmanCodeLengths(std::span<const uint64_t> freqs, int max_bits);

// Bits the symbols take under `lengths`.
uint64_t HuffmanEncodedBits(std::span<const uint8_t> lengths,
                            std::span<const uint8_t> symbols);

// Appends the lengths as nibbles: ceil(n / 2) bytes, symbol 2i in the low
// nibble of byte i. REQUIRES: every length <= 15.
void WriteHuffmanLengths(std::span<const uint8_t> lengths, ByteWriter& out);
// Reads n lengths written by WriteHuffmanLengths (padding nibble must be 0).
Status ReadHuffmanLengths(FrameReader& in, size_t n, std::vector<uint8_t>& lengths);

// Appends the code of every symbol, most significant bit first, zero-padded
// to a byte. REQUIRES: lengths[s] > 0 for every symbol s present.
void WriteHuffmanBits(std::span<const uint8_t> lengths,
                      std::span<const uint8_t> symbols, ByteWriter& out);

// Decodes canonical codes: validate the lengths once, then decode.
class HuffmanDecoder {
 public:
  // kCorrupt unless the lengths form a complete code (or one symbol of
  // length 1), all <= 15, with at most 256 symbols.
  static Result<HuffmanDecoder> Create(std::span<const uint8_t> lengths);

  // Decodes exactly symbols.size() symbols from `bits`, which must end
  // within the last byte with zero padding. kCorrupt on running out of bits,
  // an unused code (single-symbol table), non-zero padding or trailing bytes.
  Status Decode(std::span<const uint8_t> bits, std::span<uint8_t> symbols) const;

 private:
  HuffmanDecoder() = default;
  // Canonical decoding tables (as in zlib's puff.c): count of codes per
  // length and the symbols sorted by (length, symbol).
  uint16_t count_[kMaxHuffmanBits + 1] = {};
  std::vector<uint8_t> sorted_;
};

}  // namespace murmur::compress_internal
