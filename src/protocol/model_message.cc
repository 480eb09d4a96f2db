#include "murmur/protocol/model_message.h"

#include <cmath>

#include "murmur/core/bytes.h"

namespace murmur {

std::vector<uint8_t> EncodeModelMessage(ModelMessageKind kind, Round round,
                                        uint64_t weight,
                                        std::span<const float> params) {
  ByteWriter out(1 + 4 + 8 + 4 + params.size_bytes());
  WriteMessageHeader({static_cast<MessageKind>(kind), round}, out);
  out.WriteU64(weight);
  out.WriteFloats(params);
  return std::move(out).Take();
}

Result<ModelMessage> DecodeModelMessage(std::span<const uint8_t> bytes,
                                        ModelMessageKind expected_kind,
                                        size_t expected_params) {
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(
      const MessageHeader header,
      ReadMessageHeader(in, {static_cast<MessageKind>(expected_kind)}, "model message"));
  ModelMessage message;
  message.kind = expected_kind;
  message.round = header.round;
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
