#include "murmur/protocol/sybilwall_message.h"

#include <cmath>

#include "murmur/core/bytes.h"

namespace murmur {

bool IsSybilWallRecord(std::span<const uint8_t> bytes) {
  return PeekMessageKind(bytes) == MessageKind::kSybilWallRecord;
}

std::vector<uint8_t> EncodeSybilWallRecord(PeerId origin, uint32_t round, uint32_t distance,
                                           std::span<const float> history) {
  ByteWriter out(1 + 4 + 4 + 4 + 4 + history.size_bytes());
  WriteMessageKind(MessageKind::kSybilWallRecord, out);
  out.WriteU32(origin.value);
  out.WriteU32(round);
  out.WriteU32(distance);
  out.WriteFloats(history);
  return std::move(out).Take();
}

Result<SybilWallRecordMessage> DecodeSybilWallRecord(std::span<const uint8_t> bytes,
                                                     size_t expected_params) {
  ByteReader in(bytes);
  MURMUR_RETURN_IF_ERROR(
      ReadMessageKind(in, {MessageKind::kSybilWallRecord}, "sybilwall record").status());
  SybilWallRecordMessage message;
  MURMUR_ASSIGN_OR_RETURN(uint32_t origin, in.ReadU32());
  message.origin = PeerId(origin);
  MURMUR_ASSIGN_OR_RETURN(message.round, in.ReadU32());
  if (message.round == 0) return Status::Corrupt("sybilwall record: round 0");
  MURMUR_ASSIGN_OR_RETURN(message.distance, in.ReadU32());
  if (message.distance == 0 || message.distance > kSybilWallMaxDistance) {
    return Status::Corrupt("sybilwall record: distance ", message.distance,
                           " outside [1, ", kSybilWallMaxDistance, "]");
  }
  message.history.resize(expected_params);
  MURMUR_RETURN_IF_ERROR(in.ReadFloatsInto(message.history));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (size_t i = 0; i < message.history.size(); ++i) {
    if (!std::isfinite(message.history[i])) {
      return Status::Corrupt("sybilwall record: non-finite value at index ", i);
    }
  }
  return message;
}

}  // namespace murmur
