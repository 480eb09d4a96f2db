#include "murmur/protocol/model_message.h"

#include <cmath>

#include "murmur/core/bytes.h"

namespace murmur {

std::vector<uint8_t> EncodeModelMessage(ModelMessageKind kind, Round round,
                                        uint64_t weight,
                                        std::span<const float> params) {
  ByteWriter out(1 + 4 + 8 + 4 + params.size_bytes());
  out.WriteU8(static_cast<uint8_t>(kind));
  out.WriteU32(round.value);
  out.WriteU64(weight);
  out.WriteFloats(params);
  return std::move(out).Take();
}

Result<ModelMessage> DecodeModelMessage(std::span<const uint8_t> bytes,
                                        ModelMessageKind expected_kind,
                                        size_t expected_params) {
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(uint8_t kind, in.ReadU8());
  if (kind != static_cast<uint8_t>(expected_kind)) {
    return Status::Corrupt("model message: kind ", +kind, " where ",
                           static_cast<int>(expected_kind), " was expected");
  }
  ModelMessage message;
  message.kind = static_cast<ModelMessageKind>(kind);
  MURMUR_ASSIGN_OR_RETURN(uint32_t round, in.ReadU32());
  message.round = Round(round);
  MURMUR_ASSIGN_OR_RETURN(message.weight, in.ReadU64());
  message.params.resize(expected_params);
  MURMUR_RETURN_IF_ERROR(in.ReadFloatsInto(message.params));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (size_t i = 0; i < message.params.size(); ++i) {
    if (!std::isfinite(message.params[i])) {
      return Status::Corrupt("model message: non-finite value at index ", i);
    }
  }
  return message;
}

}  // namespace murmur
