#include "murmur/protocol/model_message.h"

#include <cmath>
#include <cstring>

#include "murmur/core/bytes.h"

namespace murmur {
namespace {

// Index of the first non-finite value of `values`, or values.size(). Blocks
// of 64 are tested without branches (an exponent of all ones is Inf or
// NaN), which the compiler vectorizes; the scalar search runs only in the
// block that holds a bad value.
size_t FirstNonFinite(std::span<const float> values) {
  constexpr uint32_t kExponent = 0x7f800000;
  constexpr size_t kBlock = 64;
  const size_t n = values.size();
  size_t lo = 0;
  for (; lo + kBlock <= n; lo += kBlock) {
    uint32_t bad = 0;
    for (size_t i = lo; i < lo + kBlock; ++i) {
      uint32_t bits;
      std::memcpy(&bits, &values[i], sizeof bits);
      bad |= static_cast<uint32_t>((bits & kExponent) == kExponent);
    }
    if (bad != 0) break;
  }
  for (size_t i = lo; i < n; ++i) {
    if (!std::isfinite(values[i])) return i;
  }
  return n;
}

}  // namespace

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
  if (const size_t i = FirstNonFinite(message.params); i < message.params.size()) {
    return Status::Corrupt("model message: non-finite value at index ", i);
  }
  return message;
}

namespace {

// The frame's bytes before the floats: kind, round, weight, count.
constexpr size_t kHeaderBytes = 1 + 4 + 8 + 4;
// Leading padding that puts the floats on a float boundary.
constexpr size_t kPad = (sizeof(float) - kHeaderBytes % sizeof(float)) % sizeof(float);

// The deleter of EncodeSharedModelMessage's buffers, which also records
// what the encoder saw: the frame's bytes and whether all its floats were
// finite. A SharedMessage's bytes never change once made (host.h), so when
// a received message's owner carries this deleter and its bytes are that
// frame, its floats are known finite without reading them again: each of
// the recipients of a broadcast skips the check (in a simulation of
// thousands of peers, six reads of every model per round). Bytes from a
// socket or any other buffer are checked as before.
struct EncodedFrame {
  const uint8_t* start = nullptr;
  size_t size = 0;
  bool all_finite = false;
  void operator()(float* buffer) const { delete[] buffer; }
};

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
  std::shared_ptr<float[]> buffer(new float[floats], EncodedFrame{});
  auto* start = reinterpret_cast<uint8_t*>(buffer.get()) + kPad;
  std::memcpy(start, header.bytes().data(), kHeaderBytes);
  if (!params.empty()) std::memcpy(start + kHeaderBytes, params.data(), params.size_bytes());
  // The floats are in cache right after the copy; no other thread sees the
  // buffer before this returns.
  EncodedFrame* frame = std::get_deleter<EncodedFrame>(buffer);
  MURMUR_CHECK(frame != nullptr);
  *frame = EncodedFrame{.start = start,
                        .size = size,
                        .all_finite = FirstNonFinite(params) == params.size()};
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
  const EncodedFrame* frame = std::get_deleter<EncodedFrame>(message.owner);
  const bool known_finite = frame != nullptr && frame->all_finite &&
                            frame->start == bytes.data() && frame->size == bytes.size();
  if (!known_finite) {
    if (const size_t i = FirstNonFinite(params); i < params.size()) {
      return Status::Corrupt("model message: non-finite value at index ", i);
    }
  }
  return ReceivedModelMessage{
      .round = header.round, .weight = weight, .params = ReceivedModel(message.owner, params)};
}

}  // namespace murmur
