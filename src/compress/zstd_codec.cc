#include "murmur/compress/zstd.h"

#include <zstd.h>

#include "compress/wire.h"

namespace murmur {

ZstdCodec::ZstdCodec(std::unique_ptr<Codec> inner, int level)
    : inner_(std::move(inner)), level_(level) {
  MURMUR_CHECK(inner_ != nullptr);
  MURMUR_CHECK(level >= kMinLevel && level <= kMaxLevel);
}

std::string ZstdCodec::name() const {
  std::string n;
  if (inner_->id() != CodecId::kFp32) {
    n += inner_->name();
    n += "|";
  }
  n += "zstd";
  if (level_ != kDefaultLevel) {
    n += ":";
    n += std::to_string(level_);
  }
  return n;
}

size_t ZstdCodec::MaxEncodedSize(size_t dim) const {
  return compress_internal::HeaderSize(dim) + ZSTD_compressBound(inner_->MaxEncodedSize(dim));
}

Status ZstdCodec::Encode(std::span<const float> x, const CodecContext& ctx,
                         ByteWriter& out) const {
  ByteWriter inner(inner_->MaxEncodedSize(x.size()));
  MURMUR_RETURN_IF_ERROR(inner_->Encode(x, ctx, inner));
  const std::vector<uint8_t>& src = inner.bytes();
  auto dst = compress_internal::ScratchBytes(ZSTD_compressBound(src.size()));
  // ZSTD_compress records the content size in the frame header, which the
  // decoder checks before it allocates.
  const size_t n = ZSTD_compress(dst.get(), ZSTD_compressBound(src.size()), src.data(),
                                 src.size(), level_);
  if (ZSTD_isError(n)) {
    return Status::Internal("zstd encode: ", ZSTD_getErrorName(n));
  }
  compress_internal::WriteHeader(out, id(), x.size());
  out.WriteBytes(std::span<const uint8_t>(dst.get(), n));
  return Status::Ok();
}

Result<std::vector<uint8_t>> ZstdCodec::Inflate(std::span<const uint8_t> frame,
                                                size_t dim) const {
  if (dim > kMaxCodecDimension) {
    return Status::InvalidArgument("zstd decode: dimension ", dim, " exceeds the frame limit");
  }
  compress_internal::FrameReader in(frame, "zstd");
  MURMUR_RETURN_IF_ERROR(in.Header(id(), dim));
  const std::span<const uint8_t> body = in.Rest();
  const size_t limit = inner_->MaxEncodedSize(dim);
  const unsigned long long declared = ZSTD_getFrameContentSize(body.data(), body.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return Status::Corrupt("zstd frame: not a zstd frame (", body.size(), " bytes)");
  }
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::Corrupt("zstd frame: content size not declared");
  }
  if (declared > limit) {
    return Status::Corrupt("zstd frame: declared content of ", declared,
                           " bytes exceeds the limit ", limit, " for dimension ", dim);
  }
  const size_t compressed = ZSTD_findFrameCompressedSize(body.data(), body.size());
  if (ZSTD_isError(compressed)) {
    return Status::Corrupt("zstd frame: ", ZSTD_getErrorName(compressed));
  }
  if (compressed != body.size()) {
    return Status::Corrupt("zstd frame: ", body.size() - compressed,
                           " bytes after the zstd frame");
  }
  std::vector<uint8_t> inner(static_cast<size_t>(declared));
  const size_t n = ZSTD_decompress(inner.data(), inner.size(), body.data(), body.size());
  if (ZSTD_isError(n)) {
    return Status::Corrupt("zstd frame: ", ZSTD_getErrorName(n));
  }
  if (n != declared) {
    return Status::Corrupt("zstd frame: ", n, " bytes decompressed where ", declared,
                           " were declared");
  }
  return inner;
}

Status ZstdCodec::Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                         std::span<float> out) const {
  MURMUR_ASSIGN_OR_RETURN(std::vector<uint8_t> inner, Inflate(frame, out.size()));
  return inner_->Decode(inner, ctx, out);
}

Status ZstdCodec::DecodeSparse(std::span<const uint8_t> frame, const CodecContext& ctx,
                               size_t dim, SparseUpdate& out) const {
  MURMUR_ASSIGN_OR_RETURN(std::vector<uint8_t> inner, Inflate(frame, dim));
  return inner_->DecodeSparse(inner, ctx, dim, out);
}

}  // namespace murmur
