// RQM as a codec (Youn, Hu, Ziani, Abernethy, 2023, "Randomized Quantization
// is All You Need for Differential Privacy in Federated Learning"): the
// randomized quantization mechanism of compress/rqm.h in a codec frame, so a
// protocol's [compress] codec both compresses what it sends (ceil(log2 m)
// bits a coordinate) and privatizes it with no added noise. The frame is the
// codec header, then RqmEncode's wire form exactly:
//
//   u8 CodecId::kRqm | varint dimension | u32 count | u32 levels |
//   count indices of ceil(log2 levels) bits, packed LSB first, zero-padded
//
// and decoding is RqmDecode (every index < levels, exact length, count =
// dimension = the receiver's). Encoding draws the mechanism's randomness
// from CodecContext::privacy_rng, never from the run seed: seeded draws
// could be replayed by anyone with the seed, undoing the mechanism.
// Inputs are clamped to [-clip, clip]: what lies outside is lost (choose
// clip for the values the protocol sends, e.g. model differences). A run
// reports the epsilon of these frames only under CHOCO (one frame a round,
// experiment/run_plan.h); privacy/rqm_accountant.h gives the epsilon of N
// frames (docs/privacy.md, "RQM as a codec"). Immutable and thread-safe.
#pragma once

#include "murmur/compress/codec.h"
#include "murmur/compress/rqm.h"

namespace murmur {

class RqmCodec final : public Codec {
 public:
  // REQUIRES: Validate(config).ok().
  explicit RqmCodec(const RqmConfig& config);

  CodecId id() const override { return CodecId::kRqm; }
  // "rqm:clip=<c>,delta=<d>,levels=<m>,keep=<q>", each number in its
  // shortest round-trip form.
  std::string name() const override;
  size_t MaxEncodedSize(size_t dim) const override;
  // kInvalidArgument without ctx.privacy_rng, for a non-finite value, or
  // for more than 2^32 - 1 values.
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;

  const RqmConfig& config() const { return config_; }

 private:
  const RqmConfig config_;
};

}  // namespace murmur
