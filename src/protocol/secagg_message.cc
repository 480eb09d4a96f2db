#include "murmur/protocol/secagg_message.h"

#include <cmath>

#include "murmur/core/bytes.h"
#include "murmur/protocol/dp_fedavg_message.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

std::vector<uint8_t> EncodeSecAggSetup(Round round, uint32_t clients, uint32_t index,
                                       uint64_t graph_seed, std::span<const float> global,
                                       double clip) {
  ByteWriter out(kMessageHeaderBytes + 4 + 4 + 8 + (clip > 0 ? 8 : 0) + 4 + global.size_bytes());
  WriteMessageHeader({MessageKind::kSecAggSetup, round}, out);
  out.WriteU32(clients);
  out.WriteU32(index);
  out.WriteU64(graph_seed);
  if (clip > 0) out.WriteF64(clip);
  out.WriteFloats(global);
  return std::move(out).Take();
}

Result<SecAggSetup> DecodeSecAggSetup(std::span<const uint8_t> bytes, size_t expected_params,
                                      bool with_clip) {
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(const MessageHeader header,
                          ReadMessageHeader(in, {MessageKind::kSecAggSetup}, "secagg setup"));
  SecAggSetup setup;
  setup.round = header.round;
  MURMUR_ASSIGN_OR_RETURN(setup.clients, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(setup.index, in.ReadU32());
  MURMUR_ASSIGN_OR_RETURN(setup.graph_seed, in.ReadU64());
  if (setup.clients < 2 || setup.index >= setup.clients) {
    return Status::Corrupt("secagg setup: client index ", setup.index, " of ", setup.clients,
                           " clients");
  }
  if (with_clip) {
    MURMUR_ASSIGN_OR_RETURN(setup.clip, in.ReadF64());
    if (!(setup.clip > 0 && setup.clip <= kMaxDpClip)) {
      return Status::Corrupt("secagg setup: clip norm ", setup.clip, " outside (0, ", kMaxDpClip,
                             "]");
    }
  }
  setup.global.resize(expected_params);
  MURMUR_RETURN_IF_ERROR(in.ReadFloatsInto(setup.global));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (size_t i = 0; i < setup.global.size(); ++i) {
    if (!std::isfinite(setup.global[i])) {
      return Status::Corrupt("secagg setup: non-finite value at index ", i);
    }
  }
  return setup;
}

namespace {

MessageKind KindOf(SecAggDirection direction) {
  return direction == SecAggDirection::kToServer ? MessageKind::kSecAggToServer
                                                 : MessageKind::kSecAggToClient;
}

}  // namespace

std::vector<uint8_t> EncodeSecAggPhase(SecAggDirection direction, Round round, uint8_t phase,
                                       std::span<const uint8_t> bytes) {
  ByteWriter out(kMessageHeaderBytes + 1 + bytes.size());
  WriteMessageHeader({KindOf(direction), round}, out);
  out.WriteU8(phase);
  out.WriteBytes(bytes);
  return std::move(out).Take();
}

Result<SecAggPhaseMessage> DecodeSecAggPhase(std::span<const uint8_t> bytes,
                                             SecAggDirection direction) {
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(const MessageHeader header,
                          ReadMessageHeader(in, {KindOf(direction)}, "secagg phase message"));
  SecAggPhaseMessage message;
  message.round = header.round;
  MURMUR_ASSIGN_OR_RETURN(message.phase, in.ReadU8());
  const uint8_t phases =
      direction == SecAggDirection::kToServer ? kSecAggClientPhases : kSecAggServerPhases;
  if (message.phase >= phases) {
    return Status::Corrupt("secagg phase message: phase ", +message.phase, " of ", +phases);
  }
  message.bytes.assign(bytes.begin() + static_cast<std::ptrdiff_t>(in.position()), bytes.end());
  return message;
}

}  // namespace murmur
