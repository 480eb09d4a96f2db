// Compressed FedAvg traffic: the uplink (client update = local model minus
// the global model it started from, through a codec chain, optionally with
// error feedback) and the downlink (the global model through a codec
// chain). FedAvg's nodes use these when either direction is compressed;
// otherwise they keep the uncompressed ModelMessage format.
//
// Downlink: the server encodes the global model itself, not its change, so
// a client that missed any number of rounds decodes the current model from
// one message with no state. That suits value codecs (fp16, bf16, int8,
// ...); a sparsifier would zero most of a model, so CheckDownlinkSpec
// refuses structure stages. The server adds each decoded update to its
// exact global model, so downlink rounding perturbs where clients start
// training but never accumulates in the global model.
//
// Uplink with error feedback (compress/error_feedback.h): "ef" keeps the
// dropped residual on the client (stateless server); "ef21" and "econtrol"
// make the server keep a copy of each client's estimate (one model-sized
// vector per client that ever replied). Those copies drift apart if a frame
// is lost, so frames carry a sequence number: the server uses a frame only
// if it is the next in sequence (or the first after a reset), applies late
// frames to keep in step, and tells the client how many it applied in each
// global-model message; a client whose count differs resets its encoder and
// starts a new sequence, which resets the server's copy too.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "murmur/compress/codec.h"
#include "murmur/protocol/codec_stages.h"
#include "murmur/compress/error_feedback.h"

namespace murmur {

enum class ErrorFeedbackKind { kNone, kEf, kEf21, kEControl };

// Parses "none", "ef", "ef21", "econtrol"; kInvalidArgument otherwise.
Result<ErrorFeedbackKind> ParseErrorFeedbackKind(std::string_view name);

// kInvalidArgument when `spec` is not a codec chain, or when it starts with
// a structure stage (topk, randk, powersgd, fedzip), which cannot encode a
// whole model for the downlink.
Status CheckDownlinkSpec(std::string_view spec);

// What FedAvg's nodes share: codecs are immutable and thread-safe.
struct FedAvgCompression {
  std::shared_ptr<const Codec> uplink;
  std::shared_ptr<const Codec> downlink;
  ErrorFeedbackKind error_feedback = ErrorFeedbackKind::kNone;
  float econtrol_eta = 0.5f;
  uint64_t seed = 0;  // run seed: codec randomness
  // Bytes per codec stage ("bytes_up_stage_*", "bytes_down_stage_*");
  // set together with the codecs.
  std::shared_ptr<const CodecStages> uplink_stages;
  std::shared_ptr<const CodecStages> downlink_stages;
  // False: both nodes use the uncompressed ModelMessage format.
  bool enabled() const { return uplink != nullptr; }
};

// A client's uplink encoder: one per client, not thread-safe; borrows the
// codec, which must outlive it.
class UplinkEncoder {
 public:
  UplinkEncoder(const Codec& codec, size_t dim, ErrorFeedbackKind error_feedback,
                float econtrol_eta);

  // The server says it applied `applied` of this client's frames: if that
  // is not what was sent (a frame was lost), stateful error feedback
  // restarts from a zero estimate and sequence 1.
  void OnServerAck(uint32_t applied);

  // Appends the frame encoding `update` (REQUIRES: update.size() == dim) and
  // returns its sequence number. Fails as Codec::Encode does, with the state
  // unchanged.
  Result<uint32_t> Encode(std::span<const float> update, const CodecContext& ctx,
                          ByteWriter& out);

  // What the codec encoded in the last successful Encode: `update` itself,
  // or the error-feedback corrected vector.
  std::span<const float> codec_input() const;

 private:
  const Codec& codec_;
  std::vector<float> last_update_;  // without error feedback
  const ErrorFeedbackKind kind_;
  std::optional<ErrorFeedbackEncoder> ef_;
  std::optional<Ef21Encoder> ef21_;
  std::optional<EControlEncoder> econtrol_;
  uint32_t sent_ = 0;  // frames sent since the last reset
};

// The server's view of one client's uplink: decodes its frames into the
// update the client meant. One per client; not thread-safe; borrows the
// codec.
class UplinkDecoder {
 public:
  UplinkDecoder(const Codec& codec, size_t dim, ErrorFeedbackKind error_feedback);

  // Decodes the frame with sequence number `sequence` into `update`.
  // Returns true when `update` holds the client's update, false when the
  // frame is out of sequence for a stateful decoder (it is then dropped and
  // the next global-model message's ack makes the client reset). kCorrupt
  // for a malformed frame, with the state unchanged.
  Result<bool> Receive(std::span<const uint8_t> frame, uint32_t sequence,
                       const CodecContext& ctx, std::span<float> update);

  // Frames applied since the client's last reset (what the server acks).
  uint32_t applied() const { return applied_; }

 private:
  const Codec& codec_;
  const bool stateful_;
  std::unique_ptr<EstimateReceiver> receiver_;  // stateful kinds only
  uint32_t applied_ = 0;
};

}  // namespace murmur
