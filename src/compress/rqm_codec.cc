#include "murmur/compress/rqm_codec.h"

#include <bit>
#include <charconv>

#include "compress/wire.h"
#include "murmur/core/check.h"

namespace murmur {
namespace {

using compress_internal::CheckEncodable;
using compress_internal::FrameReader;
using compress_internal::HeaderSize;
using compress_internal::WriteHeader;

std::string Shortest(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  MURMUR_CHECK(ec == std::errc());
  return std::string(buf, end);
}

}  // namespace

RqmCodec::RqmCodec(const RqmConfig& config) : config_(config) {
  MURMUR_CHECK(Validate(config_).ok());
}

std::string RqmCodec::name() const {
  return "rqm:clip=" + Shortest(config_.clip) + ",delta=" + Shortest(config_.delta) +
         ",levels=" + std::to_string(config_.levels) +
         ",keep=" + Shortest(config_.keep_probability);
}

size_t RqmCodec::MaxEncodedSize(size_t dim) const {
  const auto bits = static_cast<size_t>(std::bit_width(config_.levels - 1));
  return HeaderSize(dim) + 8 + (dim * bits + 7) / 8;
}

Status RqmCodec::Encode(std::span<const float> x, const CodecContext& ctx,
                        ByteWriter& out) const {
  if (ctx.privacy_rng == nullptr) {
    return Status::InvalidArgument(
        "rqm codec: encoding is a DP mechanism and needs the sender's privacy stream "
        "(CodecContext::privacy_rng); the run seed's streams would let anyone replay it");
  }
  MURMUR_RETURN_IF_ERROR(CheckEncodable(x, "rqm"));
  WriteHeader(out, id(), x.size());
  out.WriteBytes(RqmEncode(config_, x, *ctx.privacy_rng));
  return Status::Ok();
}

Status RqmCodec::Decode(std::span<const uint8_t> frame, const CodecContext&,
                        std::span<float> out) const {
  FrameReader in(frame, "rqm");
  MURMUR_RETURN_IF_ERROR(in.Header(id(), out.size()));
  return RqmDecode(config_, in.Rest(), out);
}

}  // namespace murmur
