// The wire format of FedAvg with local (distributed) DP and adaptive
// clipping (Andrew, Thakkar, McMahan, Ramaswamy, 2021, "Differentially
// Private Learning with Adaptive Clipping"; fedavg.h, docs/wire.md). The
// server must tell each client the round's clip norm, and each client must
// report whether its update fitted it, as a noised bit:
//   global (server -> client): u8 0x05 | u32 round | f64 clip | u32 count | count x f32
//   update (client -> server): u8 0x06 | u32 round | f64 noisy clip bit | u32 count | count x f32
// The noisy bit is 1[norm <= clip] - 1/2 plus the client's share of the
// count noise (mechanisms.h, NoisyClipBit).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/status.h"

namespace murmur {

// Bounds a decoder enforces, so that one peer cannot drive the clip norm to
// 0 or infinity: a clip in (0, kMaxDpClip], a bit in [-kMaxDpClipBit,
// kMaxDpClipBit] (the bit is 1/2 in magnitude plus noise of stddev
// sigma_b / sqrt(m), far below this).
inline constexpr double kMaxDpClip = 1e12;
inline constexpr double kMaxDpClipBit = 1e6;

enum class DpFedAvgKind : uint8_t { kGlobal, kUpdate };

struct DpFedAvgMessage {
  Round round;
  double value = 0;  // the clip norm (global) or the noisy clip bit (update)
  std::vector<float> params;
};

std::vector<uint8_t> EncodeDpFedAvgMessage(DpFedAvgKind kind, Round round, double value,
                                           std::span<const float> params);
// kCorrupt for another kind, a parameter count other than `expected_params`,
// non-finite parameters, a value outside its bound above, truncation or
// trailing bytes.
Result<DpFedAvgMessage> DecodeDpFedAvgMessage(std::span<const uint8_t> bytes, DpFedAvgKind kind,
                                              size_t expected_params);

}  // namespace murmur
