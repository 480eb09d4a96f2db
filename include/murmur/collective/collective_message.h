// Wire format of the collective layer (docs/wire.md, docs/collective.md).
// Every message: u8 kind | u32 epoch | u32 seq | body. The kinds live in
// murmur/protocol/message_kind.h (header-only; the one list of all wire
// kinds). Decoders never trust a length: counts are checked against the
// caller's bounds before anything is allocated, and trailing bytes are an
// error.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "murmur/collective/collective.h"
#include "murmur/core/bytes.h"
#include "murmur/core/ids.h"
#include "murmur/core/status.h"
#include "murmur/protocol/message_kind.h"

namespace murmur::collective {

// True for the kinds this layer handles (collective and state sync).
bool IsCollectiveMessage(std::span<const uint8_t> bytes);
// True for the state-sync kinds (state_sync.h), a subset of the above.
bool IsStateSyncMessage(std::span<const uint8_t> bytes);

enum class OpKind : uint8_t { kAllReduce = 1, kBroadcast = 2 };

struct Header {
  MessageKind kind = MessageKind::kCollectiveReady;
  OpTag tag;
};

// kCollectiveReady: | u8 op | u8 reduce | u8 bits | u32 root | u64 length | u64 digest
// The receiver's successor is ready for `tag`; op, reduction, quantization
// width (0: float32), root, length and the members digest must match the
// receiver's own call.
struct ReadyBody {
  OpKind op = OpKind::kAllReduce;
  ReduceOp reduce = ReduceOp::kSum;
  uint8_t bits = 0;
  uint32_t root = 0;
  uint64_t length = 0;
  uint64_t digest = 0;
};

// kCollectiveChunk:  | u32 step | u32 chunk | u32 count | count x f32
// kCollectiveQChunk: | u32 step | u32 chunk | u32 count | u8 bits | f32 lo
//                    | f32 scale | QuantizedBytes(count, bits) codes
struct ChunkView {
  uint32_t step = 0;
  uint32_t chunk = 0;
  uint32_t count = 0;               // values
  uint8_t bits = 0;                 // 0: float32, else 4 or 8 (quantize.h)
  float lo = 0;                     // quantized only
  float scale = 0;
  std::span<const uint8_t> floats;  // count x 4 bytes little-endian f32, or the codes
};

// kCollectiveAbort: | u32 n | n x u32 lost peer
// kCollectiveView:  | u32 n | n x (u32 peer, u64 incarnation, u8 dead)
// kCollectiveJoin:  | u64 incarnation
// kCollectiveEvicted: | u64 incarnation (epoch = the sender's decided epoch;
//                   the receiver's incarnation the sender holds dead)
struct ViewEntry {
  PeerId peer;
  uint64_t incarnation = 0;
  bool dead = false;
  auto operator<=>(const ViewEntry&) const = default;
};

// kStateHash:    | 32-byte BLAKE2b
// kStateRequest: | u32 request | u64 offset | u32 count
// kStateChunk:   | u32 request | u64 offset | u32 count | count x f32
using StateDigest = std::array<uint8_t, 32>;
struct StateRange {
  uint32_t request = 0;
  uint64_t offset = 0;
  uint32_t count = 0;
};

std::vector<uint8_t> EncodeReady(OpTag tag, const ReadyBody& body);
std::vector<uint8_t> EncodeChunk(OpTag tag, uint32_t step, uint32_t chunk,
                                 std::span<const float> values);
// `codes` as Quantize (quantize.h) wrote them for `count` values.
std::vector<uint8_t> EncodeQChunk(OpTag tag, uint32_t step, uint32_t chunk, uint32_t count,
                                  uint8_t bits, float lo, float scale,
                                  std::span<const uint8_t> codes);
std::vector<uint8_t> EncodeDone(OpTag tag);
std::vector<uint8_t> EncodeAbort(OpTag tag, std::span<const PeerId> lost);
std::vector<uint8_t> EncodeView(uint32_t epoch, std::span<const ViewEntry> view);
std::vector<uint8_t> EncodeJoin(uint64_t incarnation);
std::vector<uint8_t> EncodeEvicted(uint32_t epoch, uint64_t incarnation);
std::vector<uint8_t> EncodeStateHash(OpTag tag, const StateDigest& digest);
std::vector<uint8_t> EncodeStateRequest(OpTag tag, const StateRange& range);
std::vector<uint8_t> EncodeStateChunk(OpTag tag, const StateRange& range,
                                      std::span<const float> values);

// Reads the header; kCorrupt for a short message or a foreign kind.
Result<Header> ReadHeader(ByteReader& in);
Result<ReadyBody> ReadReady(ByteReader& in);
// Reads a whole chunk message (header included), without copying its
// floats; `max_floats`: a chunk holding more is kCorrupt.
Result<ChunkView> ReadChunk(std::span<const uint8_t> message, size_t max_floats);
// The same for kCollectiveQChunk (bits 4 or 8, codes of the right length).
Result<ChunkView> ReadQChunk(std::span<const uint8_t> message, size_t max_floats);
Status ReadEnd(ByteReader& in);
// `max_entries` bounds n before anything is allocated.
Result<std::vector<PeerId>> ReadAbort(ByteReader& in, size_t max_entries);
Result<std::vector<ViewEntry>> ReadView(ByteReader& in, size_t max_entries);
// Also reads kCollectiveEvicted's body (the same u64).
Result<uint64_t> ReadJoin(ByteReader& in);
Result<StateDigest> ReadStateHash(ByteReader& in);
Result<StateRange> ReadStateRequest(ByteReader& in);
// The range, with its floats copied into `out`, which must hold
// exactly range.count floats (checked against `max_count` first).
Result<StateRange> ReadStateChunk(ByteReader& in, size_t max_count, std::vector<float>& out);

// Copies `count` little-endian floats from bytes into out.
// REQUIRES: bytes.size() == 4 * out.size().
void CopyFloats(std::span<const uint8_t> bytes, std::span<float> out);
void AddFloats(std::span<const uint8_t> bytes, std::span<float> out);

}  // namespace murmur::collective
