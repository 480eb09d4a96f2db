#include "murmur/protocol/coded_message.h"

#include "murmur/core/bytes.h"

namespace murmur {
namespace {

bool IsChoco(uint8_t kind) {
  return kind >= static_cast<uint8_t>(CodedMessageKind::kChocoDelta) &&
         kind <= static_cast<uint8_t>(CodedMessageKind::kChocoSnapshot);
}

bool IsGossip(uint8_t kind) {
  return kind >= static_cast<uint8_t>(CodedMessageKind::kGossipDelta) &&
         kind <= static_cast<uint8_t>(CodedMessageKind::kGossipSnapshot);
}

}  // namespace

void WriteCodedMessageHeader(const CodedMessageHeader& header, ByteWriter& out) {
  out.WriteU8(static_cast<uint8_t>(header.kind));
  out.WriteU32(header.round.value);
  out.WriteU64(header.weight);
  out.WriteU32(header.sequence);
}

Result<CodedMessage> ReadCodedMessage(std::span<const uint8_t> bytes,
                                      CodedMessageKind expected) {
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(uint8_t kind, in.ReadU8());
  const bool accepted = expected == CodedMessageKind::kChocoDelta   ? IsChoco(kind)
                        : expected == CodedMessageKind::kGossipDelta ? IsGossip(kind)
                                                                     : kind == static_cast<uint8_t>(expected);
  if (!accepted) {
    return Status::Corrupt("coded message: kind ", +kind, " where ",
                           static_cast<int>(expected), " was expected");
  }
  CodedMessage message;
  message.header.kind = static_cast<CodedMessageKind>(kind);
  MURMUR_ASSIGN_OR_RETURN(uint32_t round, in.ReadU32());
  message.header.round = Round(round);
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
