#include "compress/index_coding.h"

#include <bit>
#include <cstring>

#include "compress/wire.h"

namespace murmur::compress_internal {

size_t DeltaVarintBytes(std::span<const uint32_t> indices) {
  size_t bytes = 0;
  uint64_t prev_plus_one = 0;
  for (uint32_t idx : indices) {
    bytes += VarintSize(idx - prev_plus_one);
    prev_plus_one = static_cast<uint64_t>(idx) + 1;
  }
  return bytes;
}

size_t MaxIndexBytes(size_t dim, size_t k) {
  // A gap is below dim, so each varint takes at most VarintSize(dim) bytes.
  const size_t varint = k * VarintSize(dim);
  const size_t bitmap = BitmapBytes(dim);
  return 1 + (varint < bitmap ? varint : bitmap);
}

IndexCoding ChooseIndexCoding(std::span<const uint32_t> indices, size_t dim) {
  return DeltaVarintBytes(indices) <= BitmapBytes(dim) ? IndexCoding::kDeltaVarint
                                                       : IndexCoding::kBitmap;
}

void WriteIndices(std::span<const uint32_t> indices, size_t dim, ByteWriter& out) {
  const size_t varint_bytes = DeltaVarintBytes(indices);
  const size_t bitmap_bytes = BitmapBytes(dim);
  if (varint_bytes <= bitmap_bytes) {
    out.WriteU8(static_cast<uint8_t>(IndexCoding::kDeltaVarint));
    auto buf = ScratchBytes(varint_bytes);
    uint8_t* p = buf.get();
    uint64_t prev_plus_one = 0;
    for (uint32_t idx : indices) {
      p = PutVarint(p, idx - prev_plus_one);
      prev_plus_one = static_cast<uint64_t>(idx) + 1;
    }
    out.WriteBytes(std::span<const uint8_t>(buf.get(), varint_bytes));
  } else {
    out.WriteU8(static_cast<uint8_t>(IndexCoding::kBitmap));
    std::vector<uint8_t> bitmap(bitmap_bytes, 0);
    for (uint32_t idx : indices) bitmap[idx / 8] |= static_cast<uint8_t>(1u << (idx % 8));
    out.WriteBytes(bitmap);
  }
}

namespace {

Status ReadDeltaVarint(FrameReader& in, size_t dim, size_t k,
                       std::vector<uint32_t>& indices) {
  uint64_t next = 0;  // smallest index the next entry may take
  for (size_t i = 0; i < k; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint64_t gap, in.Varint("index gap", dim));
    const uint64_t idx = next + gap;
    if (idx >= dim) {
      return Status::Corrupt(in.codec(), " frame: index ", idx, " (entry ", i,
                             ") is outside dimension ", dim);
    }
    indices[i] = static_cast<uint32_t>(idx);
    next = idx + 1;
  }
  return Status::Ok();
}

Status ReadBitmap(FrameReader& in, size_t dim, size_t k,
                  std::vector<uint32_t>& indices) {
  const size_t n_bytes = BitmapBytes(dim);
  MURMUR_ASSIGN_OR_RETURN(std::span<const uint8_t> bitmap, in.Bytes(n_bytes, "index bitmap"));
  if (dim % 8 != 0 && (bitmap[n_bytes - 1] >> (dim % 8)) != 0) {
    return Status::Corrupt(in.codec(), " frame: index bitmap has bits beyond dimension ", dim);
  }
  size_t count = 0;
  size_t i = 0;
  for (; i + 8 <= n_bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, bitmap.data() + i, 8);
    count += std::popcount(w);
  }
  for (; i < n_bytes; ++i) count += std::popcount(static_cast<unsigned>(bitmap[i]));
  if (count != k) {
    return Status::Corrupt(in.codec(), " frame: index bitmap holds ", count,
                           " indices where ", k, " were declared");
  }
  size_t out = 0;
  for (i = 0; i + 8 <= n_bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, bitmap.data() + i, 8);
    while (w != 0) {
      indices[out++] = static_cast<uint32_t>(8 * i + std::countr_zero(w));
      w &= w - 1;
    }
  }
  for (; i < n_bytes; ++i) {
    unsigned w = bitmap[i];
    while (w != 0) {
      indices[out++] = static_cast<uint32_t>(8 * i + std::countr_zero(w));
      w &= w - 1;
    }
  }
  return Status::Ok();
}

}  // namespace

Status ReadIndices(FrameReader& in, size_t dim, size_t k,
                   std::vector<uint32_t>& indices) {
  MURMUR_ASSIGN_OR_RETURN(uint8_t coding, in.U8("index coding"));
  // Every index takes at least one byte or one bit: reject a count the frame
  // cannot hold before allocating for it.
  if (k > 8 * in.remaining()) {
    return Status::Corrupt(in.codec(), " frame: ", k, " indices cannot fit in ",
                           in.remaining(), " bytes");
  }
  indices.resize(k);
  switch (coding) {
    case static_cast<uint8_t>(IndexCoding::kDeltaVarint):
      return ReadDeltaVarint(in, dim, k, indices);
    case static_cast<uint8_t>(IndexCoding::kBitmap):
      return ReadBitmap(in, dim, k, indices);
    default:
      return Status::Corrupt(in.codec(), " frame: unknown index coding ", +coding);
  }
}

}  // namespace murmur::compress_internal
