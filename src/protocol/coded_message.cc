#include "murmur/protocol/coded_message.h"

#include "murmur/core/bytes.h"

namespace murmur {
void WriteCodedMessageHeader(const CodedMessageHeader& header, ByteWriter& out) {
  WriteMessageHeader({static_cast<MessageKind>(header.kind), header.round}, out);
  out.WriteU64(header.weight);
  out.WriteU32(header.sequence);
}

Result<CodedMessage> ReadCodedMessage(std::span<const uint8_t> bytes,
                                      CodedMessageKind expected) {
  ByteReader in(bytes);
  Result<MessageHeader> header =
      expected == CodedMessageKind::kChocoDelta
          ? ReadMessageHeader(in,
                              {MessageKind::kChocoDelta, MessageKind::kChocoResyncRequest,
                               MessageKind::kChocoSnapshot},
                              "coded message")
      : expected == CodedMessageKind::kGossipDelta
          ? ReadMessageHeader(in,
                              {MessageKind::kGossipDelta, MessageKind::kGossipResyncRequest,
                               MessageKind::kGossipSnapshot},
                              "coded message")
          : ReadMessageHeader(in, {static_cast<MessageKind>(expected)}, "coded message");
  if (!header.ok()) return header.status();
  CodedMessage message;
  message.header.kind = static_cast<CodedMessageKind>(header->kind);
  message.header.round = header->round;
  MURMUR_ASSIGN_OR_RETURN(message.header.weight, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(message.header.sequence, in.ReadU32());
  message.payload = bytes.subspan(in.position());
  if ((message.header.kind == CodedMessageKind::kChocoResyncRequest ||
       message.header.kind == CodedMessageKind::kGossipResyncRequest) &&
      !message.payload.empty()) {
    return Status::Corrupt("resync request with ", message.payload.size(),
                           " payload bytes");
  }
  return message;
}

}  // namespace murmur
