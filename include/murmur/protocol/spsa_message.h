// Wire format of the shared-randomness zeroth-order protocols (spsa.h,
// fedkseed.h). All integers little-endian; the first byte is the kind (a
// MessageKind, message_kind.h), then a u32 step or round (its MessageHeader).
//   kSpsaUpdate       u8 kind | u32 step | i8 q                       6 bytes
//   kSpsaModelRequest u8 kind | u32 step                              5 bytes
//   kSpsaModelReply   u8 kind | u32 step | u32 n | n x f32
//   kKSeedRound       u8 kind | u32 round | u8 selected | u32 n | n x (u32 index, f32 coeff)
//   kKSeedUpdate      u8 kind | u32 round | u32 n | n x (u32 index, f32 scalar)
// An SPSA update names no seed: the receiver knows the run seed, the sender
// (from the transport) and the step, which key the perturbation.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

enum class SpsaMessageKind : uint8_t {
  kSpsaUpdate = static_cast<uint8_t>(MessageKind::kSpsaUpdate),
  kSpsaModelRequest = static_cast<uint8_t>(MessageKind::kSpsaModelRequest),
  kSpsaModelReply = static_cast<uint8_t>(MessageKind::kSpsaModelReply),
  kKSeedRound = static_cast<uint8_t>(MessageKind::kKSeedRound),
  kKSeedUpdate = static_cast<uint8_t>(MessageKind::kKSeedUpdate),
};

// Bytes of one SPSA update on the wire: kind, step, quantized gradient.
inline constexpr size_t kSpsaUpdateBytes = 1 + 4 + 1;

// One-byte quantization of a projected gradient on a scale `clip` shared by
// all peers (no scale travels): g is clipped to [-clip, clip] and rounded
// stochastically to one of 255 levels q/127 * clip, q in [-127, 127], so
// E[Dequantize(Quantize(g))] = clamp(g). `uniform` in [0, 1) drives the
// rounding. REQUIRES: clip > 0.
int8_t QuantizeProjectedGrad(double g, double clip, double uniform);
double DequantizeProjectedGrad(int8_t q, double clip);

// kCorrupt for an empty frame.
Result<SpsaMessageKind> PeekSpsaKind(std::span<const uint8_t> bytes);

struct SpsaUpdate {
  uint32_t step = 0;
  int8_t q = 0;
};
std::vector<uint8_t> EncodeSpsaUpdate(const SpsaUpdate& update);
// kCorrupt for another kind, a wrong length or q = -128 (never sent).
Result<SpsaUpdate> DecodeSpsaUpdate(std::span<const uint8_t> bytes);

std::vector<uint8_t> EncodeSpsaModelRequest(uint32_t step);
Result<uint32_t> DecodeSpsaModelRequest(std::span<const uint8_t> bytes);

struct SpsaModelReply {
  uint32_t step = 0;  // steps the replying peer had applied
  std::vector<float> params;
};
std::vector<uint8_t> EncodeSpsaModelReply(uint32_t step, std::span<const float> params);
// kCorrupt unless exactly `expected_params` finite values follow.
Result<SpsaModelReply> DecodeSpsaModelReply(std::span<const uint8_t> bytes,
                                            size_t expected_params);

// One (seed index, scalar) pair of FedKSeed.
struct SeedScalar {
  uint32_t index = 0;
  float scalar = 0;
  friend bool operator==(const SeedScalar&, const SeedScalar&) = default;
};

struct KSeedFrame {
  SpsaMessageKind kind = SpsaMessageKind::kKSeedRound;
  uint32_t round = 0;
  bool selected = false;  // kKSeedRound only
  std::vector<SeedScalar> pairs;
};
std::vector<uint8_t> EncodeKSeedFrame(const KSeedFrame& frame);
// kCorrupt for another kind, more than `max_pairs` pairs, an index >= `pool`,
// a non-finite scalar, truncation or trailing bytes.
Result<KSeedFrame> DecodeKSeedFrame(std::span<const uint8_t> bytes, SpsaMessageKind expected,
                                    size_t max_pairs, uint32_t pool);

}  // namespace murmur
