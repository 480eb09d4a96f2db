// Codecs: lossy and lossless encodings of a flat float vector (a model, a
// gradient, a model delta) into the bytes that cross the wire.
//
// Every codec writes one self-describing frame:
//
//   u8 codec id | varint dimension | codec payload
//
// and its decoder never trusts a length, count, index or scale from the wire:
// anything inconsistent (dimension other than the receiver's, an index out of
// range or out of order, a non-finite scale or value, a truncated or
// over-long frame) is kCorrupt, never a crash, never an allocation sized by
// the peer beyond MaxEncodedSize. A decoded vector is always finite.
//
// Varints are LEB128 in canonical form (over-long encodings are kCorrupt);
// all fixed-width fields are little-endian. A frame is not self-delimiting:
// Decode takes exactly one frame's bytes, which the message layer carries
// length-prefixed. (Decoders take a byte span rather than core's
// ByteReader because they need bulk sub-span views of packed payloads.)
//
// Codecs chain (a sparsifier, then a value codec on the kept values, then
// zstd on the bytes) through MakeCodec("topk:0.01|int8|zstd"); see
// docs in MakeCodec below.
//
// Codecs are immutable after construction: every method is const and
// thread-safe. State that must persist across steps (error feedback, the
// receiver's copy of an EF21 estimate) lives in the wrappers of
// error_feedback.h, owned by whoever owns the peer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "murmur/core/bytes.h"
#include "murmur/core/ids.h"
#include "murmur/core/rng.h"
#include "murmur/core/status.h"

namespace murmur {

// The wire id of each codec (first byte of its frame). Values are part of the
// wire format: never renumber.
enum class CodecId : uint8_t {
  kFp32 = 1,
  kFp16 = 2,
  kBf16 = 3,
  kQsgd = 4,
  kScaledSign = 5,
  kTopK = 6,
  kRandK = 7,
  kPowerSgd = 8,
  kFedZip = 9,
  kZstd = 10,
  kRqm = 11,
};

// Largest dimension a frame may declare (indices travel as uint32).
inline constexpr uint64_t kMaxCodecDimension = 0xffffffffull;

// What both sides of a link know without sending it. Shared-randomness codecs
// (rand-k's index set) derive their random stream from (seed, sender, step),
// so the receiver must pass the sender's id and the step the sender encoded.
// Stochastic rounding also draws from this stream, which makes every encode
// replayable from the run seed.
struct CodecContext {
  uint64_t seed = 0;   // run seed
  PeerId sender;       // the peer that encodes
  uint64_t step = 0;   // round or step number; one stream per step
  // Randomness that is a DP mechanism's (the "rqm" codec's subsets and
  // rounding): nobody may replay it, so it does not come from the seed
  // above. The sender passes its Host::privacy_rng() (secret in the
  // runtime, the seeded protocol stream in the simulator); decoding never
  // needs it. A codec that needs it refuses to encode without it
  // (kInvalidArgument). Not owned; valid for the call.
  Rng* privacy_rng = nullptr;
};

// A sparse update: strictly increasing indices below the dimension, one value
// each.
struct SparseUpdate {
  std::vector<uint32_t> indices;
  std::vector<float> values;
};

// One encoding of float vectors. Implementations are immutable and
// thread-safe; the header of each cites its paper.
class Codec {
 public:
  virtual ~Codec() = default;

  virtual CodecId id() const = 0;
  // The canonical spec of this codec (MakeCodec(name()) builds an equal one).
  virtual std::string name() const = 0;

  // An upper bound on the bytes Encode appends for a vector of `dim` floats.
  // Decoders never allocate more than this for a frame.
  virtual size_t MaxEncodedSize(size_t dim) const = 0;

  // Appends one frame encoding `x` to `out`.
  // Returns kInvalidArgument when `x` holds a non-finite value or more than
  // kMaxCodecDimension values; `out` is unchanged then.
  virtual Status Encode(std::span<const float> x, const CodecContext& ctx,
                        ByteWriter& out) const = 0;

  // Decodes exactly one whole frame into `out`, whose size is the dimension
  // the receiver expects. Returns kCorrupt on any malformed frame, including
  // a different codec id or dimension and trailing bytes. On failure `out`
  // holds unspecified (finite or not) values; discard it.
  virtual Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                        std::span<float> out) const = 0;

  // Decodes a frame of dimension `dim` into a sparse update. Sparse codecs
  // (top-k, rand-k, FEDZIP) return only the transmitted coordinates; the
  // default decodes densely and lists every coordinate.
  virtual Status DecodeSparse(std::span<const uint8_t> frame,
                              const CodecContext& ctx, size_t dim,
                              SparseUpdate& out) const;

  // Encodes `x` into `out` and writes into `decoded` what a receiver will
  // decode from that frame, bit for bit (error feedback needs it). Fails as
  // Encode does; `out` is unchanged on failure.
  // REQUIRES: decoded.size() == x.size().
  Status EncodeAndDecode(std::span<const float> x, const CodecContext& ctx,
                         ByteWriter& out, std::span<float> decoded) const;

 protected:
  // Decode for sparse codecs: DecodeSparse, then scatter into zeros.
  Status DecodeByScatter(std::span<const uint8_t> frame, const CodecContext& ctx,
                         std::span<float> out) const;
};

// Builds a codec (or a chain) from a spec string. Stages are joined by '|',
// in this order, each optional but at least one present:
//
//   [structure] [values] [zstd]
//
//   structure: topk:<fraction> | topk:k=<count>
//              randk:<fraction>[,scaling=unbiased|none] | randk:k=<count>
//              powersgd:<rank>[,rows=<rows>]
//              fedzip:<fraction>[,clusters=<2..16>]   (no values stage)
//   values:    fp32 | fp16 | bf16 | sign
//              int8 | int4 | int2 [:block=<n>,round=stochastic|nearest]
//              rqm[:clip=<c>,delta=<d>,levels=<m>,keep=<q>]  (compress/rqm.h;
//                a DP mechanism: draws from CodecContext::privacy_rng; not
//                after a structure stage)
//   zstd:      zstd[:<level 1..22>]
//
// A values stage after a structure stage encodes what the structure keeps
// (top-k and rand-k values, PowerSGD factors); without one they travel as
// fp32. Examples: "int8", "topk:0.01|int8|zstd", "randk:0.1|fp16",
// "powersgd:4", "fedzip:0.01,clusters=8|zstd:3", "zstd:1".
// Returns kInvalidArgument naming the offending stage and value.
Result<std::unique_ptr<Codec>> MakeCodec(std::string_view spec);

}  // namespace murmur
