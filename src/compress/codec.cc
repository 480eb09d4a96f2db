#include "murmur/compress/codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "compress/wire.h"

namespace murmur {
namespace compress_internal {

std::string_view CodecIdName(uint8_t id) {
  switch (static_cast<CodecId>(id)) {
    case CodecId::kFp32: return "fp32";
    case CodecId::kFp16: return "fp16";
    case CodecId::kBf16: return "bf16";
    case CodecId::kQsgd: return "qsgd";
    case CodecId::kScaledSign: return "sign";
    case CodecId::kTopK: return "topk";
    case CodecId::kRandK: return "randk";
    case CodecId::kPowerSgd: return "powersgd";
    case CodecId::kFedZip: return "fedzip";
    case CodecId::kZstd: return "zstd";
    case CodecId::kRqm: return "rqm";
  }
  return "unknown";
}

namespace {

// Index of the first non-finite value, or x.size(). The first loop is a
// branch-free reduction the compiler vectorizes; the exact index is only
// searched for on failure.
size_t FirstNonFinite(std::span<const float> x) {
  const float* p = x.data();
  const size_t n = x.size();
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, 4);
    bad |= static_cast<uint32_t>((bits & 0x7fffffffu) >= 0x7f800000u);
  }
  if (bad == 0) return n;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(p[i])) return i;
  }
  return n;
}

}  // namespace

Status CheckEncodable(std::span<const float> x, const char* codec) {
  if (x.size() > kMaxCodecDimension) {
    return Status::InvalidArgument(codec, " encode: dimension ", x.size(),
                                   " exceeds the frame limit ",
                                   kMaxCodecDimension);
  }
  const size_t bad = FirstNonFinite(x);
  if (bad != x.size()) {
    return Status::InvalidArgument(codec, " encode: value ", x[bad],
                                   " at index ", bad, " is not finite");
  }
  return Status::Ok();
}

Status CheckDecodedFinite(std::span<const float> x, const char* codec) {
  const size_t bad = FirstNonFinite(x);
  if (bad != x.size()) {
    return Status::Corrupt(codec, " frame: decoded value ", x[bad],
                           " at index ", bad, " is not finite");
  }
  return Status::Ok();
}

}  // namespace compress_internal

Status Codec::DecodeSparse(std::span<const uint8_t> frame,
                           const CodecContext& ctx, size_t dim,
                           SparseUpdate& out) const {
  if (dim > kMaxCodecDimension) {
    return Status::InvalidArgument(name(), " decode: dimension ", dim,
                                   " exceeds the frame limit");
  }
  std::vector<float> dense(dim);
  MURMUR_RETURN_IF_ERROR(Decode(frame, ctx, dense));
  out.indices.resize(dim);
  for (size_t i = 0; i < dim; ++i) out.indices[i] = static_cast<uint32_t>(i);
  out.values = std::move(dense);
  return Status::Ok();
}

Status Codec::DecodeByScatter(std::span<const uint8_t> frame, const CodecContext& ctx,
                              std::span<float> out) const {
  SparseUpdate sparse;
  MURMUR_RETURN_IF_ERROR(DecodeSparse(frame, ctx, out.size(), sparse));
  std::fill(out.begin(), out.end(), 0.0f);
  for (size_t i = 0; i < sparse.indices.size(); ++i) {
    out[sparse.indices[i]] = sparse.values[i];
  }
  return Status::Ok();
}

Status Codec::EncodeAndDecode(std::span<const float> x, const CodecContext& ctx,
                              ByteWriter& out, std::span<float> decoded) const {
  MURMUR_CHECK(decoded.size() == x.size());
  ByteWriter frame(MaxEncodedSize(x.size()));
  MURMUR_RETURN_IF_ERROR(Encode(x, ctx, frame));
  const Status status = Decode(frame.bytes(), ctx, decoded);
  if (!status.ok()) {
    // Encoders reject what their decoders would; reaching this is a bug.
    return Status::Internal(name(), " encode: own frame does not decode: ",
                            status.ToString());
  }
  out.WriteBytes(frame.bytes());
  return Status::Ok();
}

}  // namespace murmur
