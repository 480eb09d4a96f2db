#include "murmur/protocol/async_message.h"

#include <cmath>

#include "murmur/core/bytes.h"

namespace murmur {

std::vector<uint8_t> EncodeAsyncMessage(const AsyncMessage& message) {
  ByteWriter out(1 + 4 + 8 + 8 + 8 + 4 + message.values.size() * sizeof(float));
  WriteMessageHeader({static_cast<MessageKind>(message.kind), Round(message.version)}, out);
  out.WriteU64(message.samples);
  out.WriteU64(message.steps);
  out.WriteF64(message.compute_s);
  out.WriteFloats(message.values);
  return std::move(out).Take();
}

Result<AsyncMessage> DecodeAsyncMessage(std::span<const uint8_t> bytes,
                                        AsyncMessageKind expected_kind,
                                        size_t expected_values) {
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(
      const MessageHeader header,
      ReadMessageHeader(in, {static_cast<MessageKind>(expected_kind)}, "async FL message"));
  AsyncMessage message;
  message.kind = expected_kind;
  message.version = header.round.value;
  MURMUR_ASSIGN_OR_RETURN(message.samples, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(message.steps, in.ReadU64());
  if (message.steps > kMaxAsyncSteps) {
    return Status::Corrupt("async FL message: ", message.steps, " steps exceed the limit ",
                           kMaxAsyncSteps);
  }
  MURMUR_ASSIGN_OR_RETURN(message.compute_s, in.ReadF64());
  if (!std::isfinite(message.compute_s) || message.compute_s < 0) {
    return Status::Corrupt("async FL message: compute time ", message.compute_s,
                           " is not a finite non-negative number of seconds");
  }
  message.values.resize(expected_values);
  MURMUR_RETURN_IF_ERROR(in.ReadFloatsInto(message.values));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (size_t i = 0; i < message.values.size(); ++i) {
    if (!std::isfinite(message.values[i])) {
      return Status::Corrupt("async FL message: non-finite value at index ", i);
    }
  }
  return message;
}

}  // namespace murmur
