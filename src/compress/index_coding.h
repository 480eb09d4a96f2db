// Compact coding of a sorted index set (top-k, FEDZIP): gaps as LEB128
// varints, or a bitmap of the dimension, whichever is smaller (ties go to
// the varints). The choice travels as one byte.
//
//   kDeltaVarint: k varints: idx[0], then idx[i] - idx[i-1] - 1
//   kBitmap:      ceil(dim / 8) bytes, bit i (low bits first) set when i is
//                 kept; padding bits zero
//
// Sparse updates with k << dim / 8 take ~1-2 bytes per index; dense ones
// (k > ~dim / 10) one bit per coordinate.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "compress/wire.h"
#include "murmur/core/bytes.h"
#include "murmur/core/status.h"

namespace murmur::compress_internal {

enum class IndexCoding : uint8_t { kDeltaVarint = 0, kBitmap = 1 };

// Bytes of each coding for strictly increasing `indices` below `dim`.
size_t DeltaVarintBytes(std::span<const uint32_t> indices);
inline size_t BitmapBytes(size_t dim) { return (dim + 7) / 8; }
// The most bytes WriteIndices can take for k indices (coding byte included).
size_t MaxIndexBytes(size_t dim, size_t k);

IndexCoding ChooseIndexCoding(std::span<const uint32_t> indices, size_t dim);

// Appends the coding byte and the indices in the smaller coding.
// REQUIRES: indices strictly increasing, all < dim.
void WriteIndices(std::span<const uint32_t> indices, size_t dim, ByteWriter& out);

// Reads exactly `k` strictly increasing indices below `dim` as WriteIndices
// wrote them. kCorrupt on a bad coding byte, an index out of range or out of
// order, a count other than k, or non-zero bitmap padding.
Status ReadIndices(FrameReader& in, size_t dim, size_t k,
                   std::vector<uint32_t>& indices);

}  // namespace murmur::compress_internal
