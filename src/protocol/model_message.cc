#include "murmur/protocol/model_message.h"

#include <cmath>
#include <cstring>

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

namespace {

// The frame's bytes before the floats: kind, round, weight, count.
constexpr size_t kHeaderBytes = 1 + 4 + 8 + 4;
// Leading padding that puts the floats on a float boundary.
constexpr size_t kPad = (sizeof(float) - kHeaderBytes % sizeof(float)) % sizeof(float);

}  // namespace

SharedMessage EncodeSharedModelMessage(ModelMessageKind kind, Round round, uint64_t weight,
                                       std::span<const float> params) {
  // EncodeModelMessage's bytes, written straight into the shared buffer:
  // the header as it writes it, then the floats (WriteFloats is a count and
  // a memcpy), so a model is copied once, not twice, on the event loop.
  ByteWriter header(kHeaderBytes);
  WriteMessageHeader({static_cast<MessageKind>(kind), round}, header);
  header.WriteU64(weight);
  header.WriteU32(static_cast<uint32_t>(params.size()));
  MURMUR_CHECK(header.size() == kHeaderBytes);
  const size_t size = kHeaderBytes + params.size_bytes();
  // Float storage, so that the floats read back through DecodeShared-
  // ModelMessage's view are float objects (their bytes set by memcpy).
  const size_t floats = (kPad + size + sizeof(float) - 1) / sizeof(float);
  std::shared_ptr<float[]> buffer(new float[floats]);
  auto* start = reinterpret_cast<uint8_t*>(buffer.get()) + kPad;
  std::memcpy(start, header.bytes().data(), kHeaderBytes);
  if (!params.empty()) std::memcpy(start + kHeaderBytes, params.data(), params.size_bytes());
  return SharedMessage{.owner = std::move(buffer), .bytes = {start, size}};
}

Result<ReceivedModelMessage> DecodeSharedModelMessage(const SharedMessage& message,
                                                      ModelMessageKind expected_kind,
                                                      size_t expected_params) {
  const std::span<const uint8_t> bytes = message.bytes;
  const bool aligned = reinterpret_cast<uintptr_t>(bytes.data() + kHeaderBytes) %
                           alignof(float) == 0;
  if (message.owner == nullptr || !aligned || bytes.size() < kHeaderBytes) {
    MURMUR_ASSIGN_OR_RETURN(ModelMessage copy,
                            DecodeModelMessage(bytes, expected_kind, expected_params));
    return ReceivedModelMessage{
        .round = copy.round, .weight = copy.weight, .params = std::move(copy.params)};
  }
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(
      const MessageHeader header,
      ReadMessageHeader(in, {static_cast<MessageKind>(expected_kind)}, "model message"));
  MURMUR_ASSIGN_OR_RETURN(const uint64_t weight, in.ReadU64());
  MURMUR_ASSIGN_OR_RETURN(const uint32_t count, in.ReadU32());
  if (count != expected_params) {
    return Status::Corrupt("float array of ", count, " values where ", expected_params,
                           " were expected");
  }
  if (in.remaining() != expected_params * sizeof(float)) {
    return in.remaining() < expected_params * sizeof(float)
               ? Status::Corrupt("float array of ", count, " values truncated: ",
                                 in.remaining(), " bytes left")
               : Status::Corrupt(in.remaining() - expected_params * sizeof(float),
                                 " unexpected trailing bytes");
  }
  MURMUR_CHECK(in.position() == kHeaderBytes);
  const std::span<const float> params(
      reinterpret_cast<const float*>(bytes.data() + kHeaderBytes), expected_params);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!std::isfinite(params[i])) {
      return Status::Corrupt("model message: non-finite value at index ", i);
    }
  }
  return ReceivedModelMessage{
      .round = header.round, .weight = weight, .params = ReceivedModel(message.owner, params)};
}

}  // namespace murmur
