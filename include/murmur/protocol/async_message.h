// The wire format of the asynchronous federated protocols (FedAsync, FedBuff,
// FedCompass). One frame:
//   u8 kind | u32 version | u64 samples | u64 steps | f64 compute_s |
//   u32 count | count x f32 (little-endian)
// A task (server -> client) carries the global model of `version` and the
// number of local `steps` to run (samples and compute_s are 0). An update
// (client -> server) carries the version it started from, the client's
// sample count, the steps it ran, the virtual seconds its training took, and
// either its trained model or its change (trained - start), as the protocol
// asks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

// The bytes are MessageKind's (message_kind.h); version rides in its round.
enum class AsyncMessageKind : uint8_t {
  kTask = static_cast<uint8_t>(MessageKind::kAsyncTask),
  kUpdate = static_cast<uint8_t>(MessageKind::kAsyncUpdate),
};

struct AsyncMessage {
  AsyncMessageKind kind = AsyncMessageKind::kTask;
  uint32_t version = 0;
  uint64_t samples = 0;
  uint64_t steps = 0;
  double compute_s = 0;
  std::vector<float> values;
};

// Steps a task may ask for; larger counts in a frame are corrupt.
inline constexpr uint64_t kMaxAsyncSteps = uint64_t{1} << 32;

std::vector<uint8_t> EncodeAsyncMessage(const AsyncMessage& message);

// Returns kCorrupt for a kind other than `expected_kind`, a value count other
// than `expected_values`, steps above kMaxAsyncSteps, a negative or
// non-finite compute_s, non-finite values, truncation or trailing bytes.
Result<AsyncMessage> DecodeAsyncMessage(std::span<const uint8_t> bytes,
                                        AsyncMessageKind expected_kind,
                                        size_t expected_values);

}  // namespace murmur
