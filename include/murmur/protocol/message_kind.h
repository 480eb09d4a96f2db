// Every protocol message on the wire starts with one kind byte, and the
// kinds of all protocols are listed here, once, so that no two messages
// share a byte (checked at compile time below): a peer that receives another
// protocol's frame, or a frame meant for another decoder, rejects it by its
// first byte. docs/wire.md has the table.
//
// Most messages continue with a u32 round (a round, gossip step, model
// version or cycle): that common prefix, u8 kind | u32 round, is the
// MessageHeader, written and read here for every codec that has it.
// Renumbering a kind changes no byte count.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "murmur/core/bytes.h"
#include "murmur/core/check.h"
#include "murmur/core/ids.h"
#include "murmur/core/status.h"

namespace murmur {

enum class MessageKind : uint8_t {
  // model_message.h: u8 kind | u32 round | u64 weight | u32 count | f32s
  kDpsgdParams = 0x01,   // neighbour's model for a D-PSGD round
  kGossipModel = 0x02,   // gossip learning push
  kFedAvgGlobal = 0x03,  // server -> client: global model for a round
  kFedAvgUpdate = 0x04,  // client -> server: trained model and sample count
  // dp_fedavg_message.h: u8 kind | u32 round | f64 value | u32 count | f32s
  kFedAvgDpGlobal = 0x05,  // server -> client: global model and clip norm
  kFedAvgDpUpdate = 0x06,  // client -> server: update and noisy clip bit
  // coded_message.h: u8 kind | u32 round | u64 weight | u32 sequence | frame
  kChocoDelta = 0x10,
  kChocoResyncRequest = 0x11,
  kChocoSnapshot = 0x12,
  kFedAvgCodedGlobal = 0x13,
  kFedAvgCodedUpdate = 0x14,
  kGossipDelta = 0x15,
  kGossipResyncRequest = 0x16,
  kGossipSnapshot = 0x17,
  // async_message.h: u8 kind | u32 version | ...
  kAsyncTask = 0x21,
  kAsyncUpdate = 0x22,
  // spsa_message.h: u8 kind | u32 step or round | ...
  kSpsaUpdate = 0x28,
  kSpsaModelRequest = 0x29,
  kSpsaModelReply = 0x2A,
  kKSeedRound = 0x2B,
  kKSeedUpdate = 0x2C,
  // sybilwall_message.h: u8 kind | u32 origin | u32 round | ...
  kSybilWallRecord = 0x31,
  // modest_message.h: u8 kind | u32 round | u8 role | ...
  kModestPing = 0x40,
  kModestPong = 0x41,
  kModestTrained = 0x42,
  kModestGlobal = 0x43,
  kModestAck = 0x44,
  kModestProgress = 0x45,
  // collective/collective_message.h: u8 kind | u32 epoch | u32 sequence | ...
  kCollectiveReady = 0x50,   // ring successor -> predecessor: send me data
  kCollectiveChunk = 0x51,   // one chunk of one ring step
  kCollectiveDone = 0x52,    // data phase finished (commit barrier)
  kCollectiveAbort = 0x53,   // operation aborted, with the lost peers
  kCollectiveView = 0x54,    // membership agreement: a peer's view
  kCollectiveJoin = 0x55,    // a joiner asks to be admitted
  kCollectiveQChunk = 0x59,  // one quantized chunk of one ring step
  kCollectiveEvicted = 0x5A, // member -> a peer it holds dead: you are not in my epoch
  // collective/state_sync.h: same prefix
  kStateHash = 0x56,         // BLAKE2b of the shared state after a step
  kStateRequest = 0x57,      // pull a range of the shared state
  kStateChunk = 0x58,        // reply: that range
  // secagg_message.h: u8 kind | u32 round | ...
  kSecAggSetup = 0x60,       // server -> client: round setup and global model
  kSecAggToClient = 0x61,    // server -> client: one SecAgg phase's message
  kSecAggToServer = 0x62,    // client -> server: one SecAgg phase's message
};

// Every kind, for the uniqueness check and for tables.
inline constexpr std::array kAllMessageKinds = {
    MessageKind::kDpsgdParams,        MessageKind::kGossipModel,
    MessageKind::kFedAvgGlobal,       MessageKind::kFedAvgUpdate,
    MessageKind::kFedAvgDpGlobal,     MessageKind::kFedAvgDpUpdate,
    MessageKind::kChocoDelta,         MessageKind::kChocoResyncRequest,
    MessageKind::kChocoSnapshot,      MessageKind::kFedAvgCodedGlobal,
    MessageKind::kFedAvgCodedUpdate,  MessageKind::kGossipDelta,
    MessageKind::kGossipResyncRequest, MessageKind::kGossipSnapshot,
    MessageKind::kAsyncTask,          MessageKind::kAsyncUpdate,
    MessageKind::kSpsaUpdate,         MessageKind::kSpsaModelRequest,
    MessageKind::kSpsaModelReply,     MessageKind::kKSeedRound,
    MessageKind::kKSeedUpdate,        MessageKind::kSybilWallRecord,
    MessageKind::kModestPing,         MessageKind::kModestPong,
    MessageKind::kModestTrained,      MessageKind::kModestGlobal,
    MessageKind::kModestAck,          MessageKind::kModestProgress,
    MessageKind::kCollectiveReady,    MessageKind::kCollectiveChunk,
    MessageKind::kCollectiveDone,     MessageKind::kCollectiveAbort,
    MessageKind::kCollectiveView,     MessageKind::kCollectiveJoin,
    MessageKind::kStateHash,          MessageKind::kStateRequest,
    MessageKind::kStateChunk,         MessageKind::kCollectiveQChunk,
    MessageKind::kCollectiveEvicted,
    MessageKind::kSecAggSetup,
    MessageKind::kSecAggToClient,     MessageKind::kSecAggToServer,
};

// True when no two kinds in `kinds` share a byte (and none is 0, which no
// message uses, so an all-zero frame is never valid).
template <size_t N>
constexpr bool MessageKindsAreDistinct(const std::array<MessageKind, N>& kinds) {
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<uint8_t>(kinds[i]) == 0) return false;
    for (size_t j = i + 1; j < N; ++j) {
      if (kinds[i] == kinds[j]) return false;
    }
  }
  return true;
}
static_assert(MessageKindsAreDistinct(kAllMessageKinds),
              "two wire message kinds share a byte: see message_kind.h");

// A byte's kind, or nullopt for a byte no message uses.
constexpr std::optional<MessageKind> MessageKindOf(uint8_t byte) {
  for (MessageKind kind : kAllMessageKinds) {
    if (static_cast<uint8_t>(kind) == byte) return kind;
  }
  return std::nullopt;
}

// The kind of a whole message: its first byte, or nullopt when the
// message is empty or starts with a byte no message uses.
inline std::optional<MessageKind> PeekMessageKind(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return std::nullopt;
  return MessageKindOf(bytes[0]);
}

// The common prefix of most messages.
struct MessageHeader {
  MessageKind kind = MessageKind::kDpsgdParams;
  Round round;  // round, gossip step, model version or cycle
};
inline constexpr size_t kMessageHeaderBytes = 1 + 4;

// Inline, so that a fuzz target links a codec's .cc alone.
inline void WriteMessageKind(MessageKind kind, ByteWriter& out) {
  out.WriteU8(static_cast<uint8_t>(kind));
}

inline void WriteMessageHeader(const MessageHeader& header, ByteWriter& out) {
  WriteMessageKind(header.kind, out);
  out.WriteU32(header.round.value);
}

// Reads the kind byte. Returns kCorrupt, naming `what` (the decoder, e.g.
// "model message"), when the input is empty or the kind is not one of
// `accepted`. REQUIRES: `accepted` is not empty.
inline Result<MessageKind> ReadMessageKind(ByteReader& in,
                                           std::initializer_list<MessageKind> accepted,
                                           std::string_view what) {
  MURMUR_CHECK(accepted.size() > 0);
  MURMUR_ASSIGN_OR_RETURN(uint8_t byte, in.ReadU8());
  for (MessageKind kind : accepted) {
    if (static_cast<uint8_t>(kind) == byte) return kind;
  }
  std::string expected;
  for (MessageKind kind : accepted) {
    if (!expected.empty()) expected += " or ";
    expected += std::to_string(static_cast<int>(kind));
  }
  return Status::Corrupt(what, ": kind ", +byte, " where ", expected, " was expected");
}

// Reads kind and round, with ReadMessageKind's failures plus truncation.
inline Result<MessageHeader> ReadMessageHeader(ByteReader& in,
                                               std::initializer_list<MessageKind> accepted,
                                               std::string_view what) {
  MessageHeader header;
  MURMUR_ASSIGN_OR_RETURN(header.kind, ReadMessageKind(in, accepted, what));
  MURMUR_ASSIGN_OR_RETURN(uint32_t round, in.ReadU32());
  header.round = Round(round);
  return header;
}

}  // namespace murmur
