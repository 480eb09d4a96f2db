#include "murmur/protocol/dp_fedavg_message.h"

#include <cmath>

#include "murmur/core/bytes.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

namespace {

MessageKind KindOf(DpFedAvgKind kind) {
  return kind == DpFedAvgKind::kGlobal ? MessageKind::kFedAvgDpGlobal
                                       : MessageKind::kFedAvgDpUpdate;
}

}  // namespace

std::vector<uint8_t> EncodeDpFedAvgMessage(DpFedAvgKind kind, Round round, double value,
                                           std::span<const float> params) {
  ByteWriter out(kMessageHeaderBytes + 8 + 4 + params.size_bytes());
  WriteMessageHeader({KindOf(kind), round}, out);
  out.WriteF64(value);
  out.WriteFloats(params);
  return std::move(out).Take();
}

Result<DpFedAvgMessage> DecodeDpFedAvgMessage(std::span<const uint8_t> bytes, DpFedAvgKind kind,
                                              size_t expected_params) {
  ByteReader in(bytes);
  MURMUR_ASSIGN_OR_RETURN(const MessageHeader header,
                          ReadMessageHeader(in, {KindOf(kind)}, "DP FedAvg message"));
  DpFedAvgMessage message;
  message.round = header.round;
  MURMUR_ASSIGN_OR_RETURN(message.value, in.ReadF64());
  const bool global = kind == DpFedAvgKind::kGlobal;
  if (global ? !(message.value > 0 && message.value <= kMaxDpClip)
             : !(std::abs(message.value) <= kMaxDpClipBit)) {
    return Status::Corrupt("DP FedAvg message: ", global ? "clip norm " : "clip bit ",
                           message.value, " out of range");
  }
  message.params.resize(expected_params);
  MURMUR_RETURN_IF_ERROR(in.ReadFloatsInto(message.params));
  MURMUR_RETURN_IF_ERROR(in.ExpectEnd());
  for (size_t i = 0; i < message.params.size(); ++i) {
    if (!std::isfinite(message.params[i])) {
      return Status::Corrupt("DP FedAvg message: non-finite value at index ", i);
    }
  }
  return message;
}

}  // namespace murmur
