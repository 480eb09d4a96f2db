#include "murmur/protocol/fedavg_compression.h"

#include <algorithm>
#include <string>

namespace murmur {

Result<ErrorFeedbackKind> ParseErrorFeedbackKind(std::string_view name) {
  if (name == "none") return ErrorFeedbackKind::kNone;
  if (name == "ef") return ErrorFeedbackKind::kEf;
  if (name == "ef21") return ErrorFeedbackKind::kEf21;
  if (name == "econtrol") return ErrorFeedbackKind::kEControl;
  return Status::InvalidArgument("unknown error feedback '", name,
                                 "' (known: none, ef, ef21, econtrol)");
}

Status CheckDownlinkSpec(std::string_view spec) {
  MURMUR_RETURN_IF_ERROR(MakeCodec(spec).status());
  const size_t start = spec.find_first_not_of(" \t");
  const std::string_view rest = start == std::string_view::npos ? "" : spec.substr(start);
  const std::string_view first = rest.substr(0, rest.find_first_of(":| \t"));
  for (std::string_view structure : {"topk", "randk", "powersgd", "fedzip"}) {
    if (first == structure) {
      return Status::InvalidArgument(
          "downlink codec '", spec, "' starts with '", first,
          "', which would drop most of the global model: the downlink encodes whole "
          "models, so use a value codec such as \"int8\", \"fp16\" or \"int8|zstd\"");
    }
  }
  return Status::Ok();
}

UplinkEncoder::UplinkEncoder(const Codec& codec, size_t dim,
                             ErrorFeedbackKind error_feedback, float econtrol_eta)
    : codec_(codec), kind_(error_feedback) {
  switch (kind_) {
    case ErrorFeedbackKind::kNone:
      break;
    case ErrorFeedbackKind::kEf:
      ef_.emplace(codec, dim);
      break;
    case ErrorFeedbackKind::kEf21:
      ef21_.emplace(codec, dim);
      break;
    case ErrorFeedbackKind::kEControl:
      econtrol_.emplace(codec, dim, econtrol_eta);
      break;
  }
}

void UplinkEncoder::OnServerAck(uint32_t applied) {
  if (applied == sent_) return;
  // Only the estimate-based schemes need the server in step; restarting
  // them from zero puts both ends back in step with the next frame.
  if (ef21_) ef21_->Reset();
  if (econtrol_) econtrol_->Reset();
  sent_ = 0;
}

Result<uint32_t> UplinkEncoder::Encode(std::span<const float> update, const CodecContext& ctx,
                                       ByteWriter& out) {
  Status s = ef_        ? ef_->Encode(update, ctx, out)
             : ef21_    ? ef21_->Encode(update, ctx, out)
             : econtrol_ ? econtrol_->Encode(update, ctx, out)
                         : codec_.Encode(update, ctx, out);
  MURMUR_RETURN_IF_ERROR(s);
  if (kind_ == ErrorFeedbackKind::kNone) last_update_.assign(update.begin(), update.end());
  return ++sent_;
}

std::span<const float> UplinkEncoder::codec_input() const {
  return ef_ ? ef_->codec_input()
         : ef21_ ? ef21_->codec_input()
         : econtrol_ ? econtrol_->codec_input()
                     : std::span<const float>(last_update_);
}

UplinkDecoder::UplinkDecoder(const Codec& codec, size_t dim, ErrorFeedbackKind error_feedback)
    : codec_(codec),
      stateful_(error_feedback == ErrorFeedbackKind::kEf21 ||
                error_feedback == ErrorFeedbackKind::kEControl) {
  if (stateful_) receiver_ = std::make_unique<EstimateReceiver>(codec, dim);
}

Result<bool> UplinkDecoder::Receive(std::span<const uint8_t> frame, uint32_t sequence,
                                    const CodecContext& ctx, std::span<float> update) {
  if (!stateful_) {
    MURMUR_RETURN_IF_ERROR(codec_.Decode(frame, ctx, update));
    applied_ = sequence;
    return true;
  }
  if (sequence == 0) return Status::Corrupt("uplink frame with sequence number 0");
  if (sequence != 1 && sequence != applied_ + 1) return false;
  if (sequence == 1) {
    // A new sequence: decode against a fresh estimate, but keep the old
    // one if the frame turns out corrupt.
    auto fresh = std::make_unique<EstimateReceiver>(codec_, update.size());
    MURMUR_RETURN_IF_ERROR(fresh->Receive(frame, ctx));
    receiver_ = std::move(fresh);
  } else {
    MURMUR_RETURN_IF_ERROR(receiver_->Receive(frame, ctx));
  }
  applied_ = sequence;
  std::copy(receiver_->estimate().begin(), receiver_->estimate().end(), update.begin());
  return true;
}

}  // namespace murmur
