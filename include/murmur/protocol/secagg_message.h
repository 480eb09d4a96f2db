// The wire format of FedAvg with secure aggregation (fedavg_secagg.h,
// docs/wire.md). Three frames, each starting with the MessageHeader:
//   setup   (server -> client): u8 0x60 | u32 round | u32 clients |
//           u32 index | u64 graph_seed | [f64 clip] | u32 count | count x f32
//           (the clip norm of the round only with adaptive clipping, whose
//           clients then append their noisy clip bit to the masked input)
//   to client (server -> client): u8 0x61 | u32 round | u8 phase | bytes
//   to server (client -> server): u8 0x62 | u32 round | u8 phase | bytes
// `bytes` is the privacy/secagg.h message of that phase, which its own
// decoder checks; this codec only bounds the phase number.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/status.h"

namespace murmur {

// Server -> client phases: the key list (after key advertisement), the
// forwarded shares (after share keys), the survivor list (after masked
// input). Client -> server phases: 0 keys, 1 shares, 2 masked input,
// 3 unmasking shares.
inline constexpr uint8_t kSecAggServerPhases = 3;
inline constexpr uint8_t kSecAggClientPhases = 4;

struct SecAggSetup {
  Round round;
  uint32_t clients = 0;  // n, the round's selected clients
  uint32_t index = 0;    // this client's id among them, < clients
  uint64_t graph_seed = 0;
  double clip = 0;  // the round's clip norm with adaptive clipping, else 0
  std::vector<float> global;
};

struct SecAggPhaseMessage {
  Round round;
  uint8_t phase = 0;
  std::vector<uint8_t> bytes;
};

// `clip` > 0 writes the clip field (adaptive clipping); 0 leaves it out.
std::vector<uint8_t> EncodeSecAggSetup(Round round, uint32_t clients, uint32_t index,
                                       uint64_t graph_seed, std::span<const float> global,
                                       double clip = 0);
// kCorrupt for another kind, index >= clients, clients < 2, a parameter
// count other than `expected_params`, non-finite values, truncation or
// trailing bytes, and with `with_clip` (the run uses adaptive clipping) a
// clip outside (0, kMaxDpClip] (dp_fedavg_message.h).
Result<SecAggSetup> DecodeSecAggSetup(std::span<const uint8_t> bytes, size_t expected_params,
                                      bool with_clip = false);

// `to_server` picks the kind (0x62) or the client-bound one (0x61).
enum class SecAggDirection : uint8_t { kToClient, kToServer };
std::vector<uint8_t> EncodeSecAggPhase(SecAggDirection direction, Round round, uint8_t phase,
                                       std::span<const uint8_t> bytes);
// kCorrupt for another kind or a phase out of range for the direction.
Result<SecAggPhaseMessage> DecodeSecAggPhase(std::span<const uint8_t> bytes,
                                             SecAggDirection direction);

}  // namespace murmur
