// The wire format of protocol messages whose payload is a codec frame
// (compress/codec.h): CHOCO-SGD's compressed deltas and resyncs, and
// FedAvg's compressed global models and updates. One frame:
//
//   u8 kind | u32 round | u64 weight | u32 sequence | payload
//
// `payload` is exactly one codec frame (empty for a resync request); the
// message itself delimits it, since codec frames are not self-delimiting.
// The header is as long as ModelMessage's (17 bytes), and both count in the
// traffic a run reports. The kind bytes are MessageKind's (message_kind.h),
// and kind | round is its MessageHeader.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/core/ids.h"
#include "murmur/core/status.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

enum class CodedMessageKind : uint8_t {
  // CHOCO: q = Q(x - x_hat) for `round`; sequence unused (0).
  kChocoDelta = static_cast<uint8_t>(MessageKind::kChocoDelta),
  // CHOCO: "my copy of your public model missed deltas". sequence = the
  // last round the requester applied; weight = the first round it has
  // buffered beyond that (0: none); no payload. Answered with the missed
  // deltas, or a snapshot.
  kChocoResyncRequest = static_cast<uint8_t>(MessageKind::kChocoResyncRequest),
  // CHOCO: the sender's whole public model after `round`, as an fp32 frame.
  kChocoSnapshot = static_cast<uint8_t>(MessageKind::kChocoSnapshot),
  // FedAvg server -> client: the global model for `round` through the
  // downlink codec; sequence = uplink frames the server has applied from
  // this client since its last reset (lets the client detect a lost frame).
  kFedAvgCodedGlobal = static_cast<uint8_t>(MessageKind::kFedAvgCodedGlobal),
  // FedAvg client -> server: the update (local - global) through the
  // uplink codec; weight = sample count; sequence = frames sent since the
  // client's encoder state was last reset, 1 for the first (the server then
  // resets its copy of the estimate too).
  kFedAvgCodedUpdate = static_cast<uint8_t>(MessageKind::kFedAvgCodedUpdate),
  // Compressed gossip (choco_gossip.h), per directed edge: q = Q(x_i -
  // x_hat_{i->j}); round = the sender's gossip cycle (the codec's step);
  // sequence = the edge's sequence number after applying q (1 for the first).
  kGossipDelta = static_cast<uint8_t>(MessageKind::kGossipDelta),
  // Compressed gossip: "my copy of your model on this edge missed messages";
  // sequence = the last sequence number the requester applied; round = its
  // cycle; no payload. Answered with the missed messages, or a snapshot.
  kGossipResyncRequest = static_cast<uint8_t>(MessageKind::kGossipResyncRequest),
  // Compressed gossip: the edge's whole copy as an fp32 frame, which replaces
  // the receiver's; sequence = the edge's sequence number it corresponds to.
  kGossipSnapshot = static_cast<uint8_t>(MessageKind::kGossipSnapshot),
};

inline constexpr size_t kCodedMessageHeaderBytes = 1 + 4 + 8 + 4;

struct CodedMessageHeader {
  CodedMessageKind kind = CodedMessageKind::kChocoDelta;
  Round round;
  uint64_t weight = 0;
  uint32_t sequence = 0;
};

// Starts a message: writes the header into `out`, after which the caller
// appends the payload frame (Codec::Encode).
void WriteCodedMessageHeader(const CodedMessageHeader& header, ByteWriter& out);

struct CodedMessage {
  CodedMessageHeader header;
  std::span<const uint8_t> payload;  // a view into the decoded bytes
};

// Parses the header; the payload is validated by the codec that decodes it.
// Returns kCorrupt for truncation, a kind other than `expected` (any
// CHOCO kind when `expected` is kChocoDelta, since a CHOCO peer receives all
// three; any compressed-gossip kind when it is kGossipDelta), or a resync
// request with a payload.
Result<CodedMessage> ReadCodedMessage(std::span<const uint8_t> bytes,
                                      CodedMessageKind expected);

}  // namespace murmur
