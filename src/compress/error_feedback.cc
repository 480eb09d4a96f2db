#include "murmur/compress/error_feedback.h"

#include <algorithm>
#include <cmath>

namespace murmur {

ErrorFeedbackEncoder::ErrorFeedbackEncoder(const Codec& codec, size_t dim)
    : codec_(codec), error_(dim, 0.0f), corrected_(dim), decoded_(dim) {}

Status ErrorFeedbackEncoder::Encode(std::span<const float> x, const CodecContext& ctx,
                                    ByteWriter& out) {
  MURMUR_CHECK(x.size() == error_.size());
  for (size_t i = 0; i < x.size(); ++i) corrected_[i] = x[i] + error_[i];
  MURMUR_RETURN_IF_ERROR(codec_.EncodeAndDecode(corrected_, ctx, out, decoded_));
  for (size_t i = 0; i < x.size(); ++i) error_[i] = corrected_[i] - decoded_[i];
  return Status::Ok();
}

void ErrorFeedbackEncoder::Reset() { std::fill(error_.begin(), error_.end(), 0.0f); }

Ef21Encoder::Ef21Encoder(const Codec& codec, size_t dim)
    : codec_(codec), estimate_(dim, 0.0f), diff_(dim), decoded_(dim) {}

Status Ef21Encoder::Encode(std::span<const float> x, const CodecContext& ctx,
                           ByteWriter& out) {
  MURMUR_CHECK(x.size() == estimate_.size());
  for (size_t i = 0; i < x.size(); ++i) diff_[i] = x[i] - estimate_[i];
  MURMUR_RETURN_IF_ERROR(codec_.EncodeAndDecode(diff_, ctx, out, decoded_));
  for (size_t i = 0; i < x.size(); ++i) estimate_[i] += decoded_[i];
  return Status::Ok();
}

void Ef21Encoder::Reset() { std::fill(estimate_.begin(), estimate_.end(), 0.0f); }

EControlEncoder::EControlEncoder(const Codec& codec, size_t dim, float eta)
    : codec_(codec),
      eta_(eta),
      estimate_(dim, 0.0f),
      error_(dim, 0.0f),
      input_(dim),
      decoded_(dim) {
  MURMUR_CHECK(std::isfinite(eta) && eta >= 0);
}

Status EControlEncoder::Encode(std::span<const float> x, const CodecContext& ctx,
                               ByteWriter& out) {
  MURMUR_CHECK(x.size() == estimate_.size());
  for (size_t i = 0; i < x.size(); ++i) {
    input_[i] = eta_ * error_[i] + (x[i] - estimate_[i]);
  }
  MURMUR_RETURN_IF_ERROR(codec_.EncodeAndDecode(input_, ctx, out, decoded_));
  for (size_t i = 0; i < x.size(); ++i) {
    error_[i] += (x[i] - estimate_[i]) - decoded_[i];
    estimate_[i] += decoded_[i];
  }
  return Status::Ok();
}

void EControlEncoder::Reset() {
  std::fill(estimate_.begin(), estimate_.end(), 0.0f);
  std::fill(error_.begin(), error_.end(), 0.0f);
}

EstimateReceiver::EstimateReceiver(const Codec& codec, size_t dim)
    : codec_(codec), estimate_(dim, 0.0f), decoded_(dim) {}

Status EstimateReceiver::Receive(std::span<const uint8_t> frame, const CodecContext& ctx) {
  MURMUR_RETURN_IF_ERROR(codec_.Decode(frame, ctx, decoded_));
  for (size_t i = 0; i < estimate_.size(); ++i) estimate_[i] += decoded_[i];
  return Status::Ok();
}

void EstimateReceiver::Reset() { std::fill(estimate_.begin(), estimate_.end(), 0.0f); }

}  // namespace murmur
