#include "murmur/protocol/modest_message.h"

#include <cmath>

#include "murmur/core/bytes.h"

namespace murmur {

std::vector<uint8_t> EncodeModestFrame(ModestMessageType type, int64_t round, ModestRole role,
                                       std::span<const ModestMembershipUpdate> updates,
                                       std::span<const float> params) {
  ByteWriter out(14 + updates.size() * kModestUpdateBytes + params.size_bytes());
  WriteMessageHeader({static_cast<MessageKind>(type), RoundOf(round)}, out);
  out.WriteU8(static_cast<uint8_t>(role));
  out.WriteU32(static_cast<uint32_t>(updates.size()));
  for (const ModestMembershipUpdate& u : updates) {
    out.WriteU32(u.peer);
    out.WriteU32(u.incarnation);
    out.WriteU8(u.alive ? 1 : 0);
  }
  out.WriteFloats(params);
  return std::move(out).Take();
}

Result<ModestFrame> DecodeModestFrame(std::span<const uint8_t> bytes, int64_t num_peers,
                                      size_t model_size) {
  ByteReader in(bytes);
  ModestFrame frame;
  MURMUR_ASSIGN_OR_RETURN(
      const MessageHeader header,
      ReadMessageHeader(in,
                        {MessageKind::kModestPing, MessageKind::kModestPong,
                         MessageKind::kModestTrained, MessageKind::kModestGlobal,
                         MessageKind::kModestAck, MessageKind::kModestProgress},
                        "MoDeST"));
  frame.type = static_cast<ModestMessageType>(header.kind);
  if (header.round.value < 1) return Status::Corrupt("MoDeST: message for round 0");
  frame.round = header.round.value;
  MURMUR_ASSIGN_OR_RETURN(uint8_t role, in.ReadU8());
  if (role > 1) return Status::Corrupt("MoDeST: unknown role ", +role);
  frame.role = static_cast<ModestRole>(role);
  MURMUR_ASSIGN_OR_RETURN(uint32_t n, in.ReadU32());
  if (n > static_cast<uint64_t>(num_peers) || in.remaining() < n * kModestUpdateBytes) {
    return Status::Corrupt("MoDeST: ", n, " membership updates for ", num_peers,
                           " peers or truncated");
  }
  const size_t start = in.position();
  for (uint32_t i = 0; i < n; ++i) {
    MURMUR_ASSIGN_OR_RETURN(uint32_t peer, in.ReadU32());
    MURMUR_ASSIGN_OR_RETURN(uint32_t incarnation, in.ReadU32());
    MURMUR_ASSIGN_OR_RETURN(uint8_t alive, in.ReadU8());
    (void)incarnation;
    if (peer >= static_cast<uint64_t>(num_peers) || alive > 1) {
      return Status::Corrupt("MoDeST: membership update for peer ", peer, " alive=", +alive);
    }
  }
  frame.updates = bytes.subspan(start, n * kModestUpdateBytes);
  const bool has_model =
      frame.type == ModestMessageType::kTrained || frame.type == ModestMessageType::kGlobal;
  frame.params.resize(has_model ? model_size : 0);
  MURMUR_RETURN_IF_ERROR(in.ReadFloatsInto(frame.params));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (size_t i = 0; i < frame.params.size(); ++i) {
    if (!std::isfinite(frame.params[i])) {
      return Status::Corrupt("MoDeST: non-finite model value at index ", i);
    }
  }
  return frame;
}

}  // namespace murmur
