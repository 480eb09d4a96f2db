// Wire format of MoDeST (protocol/modest.h). Little-endian; type | round is
// the MessageHeader (message_kind.h), type a MessageKind:
//   u8 type | u32 round | u8 role | u32 n | n x (u32 peer, u32 incarnation,
//   u8 alive) | u32 count | count x f32
// Models ride in kTrained and kGlobal (count = the model size); every other
// type carries count = 0. `role` is meaningful in kPing and kPong only. The
// n membership updates are the sender's entries that differ from the initial
// "everyone alive, incarnation 0" view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

enum class ModestRole : uint8_t { kTrainer = 0, kAggregator = 1 };

// The frame types; their bytes are MessageKind's (message_kind.h).
enum class ModestMessageType : uint8_t {
  // are you alive for (round, role)?
  kPing = static_cast<uint8_t>(MessageKind::kModestPing),
  // yes
  kPong = static_cast<uint8_t>(MessageKind::kModestPong),
  // trainer -> aggregator: model trained in `round`
  kTrained = static_cast<uint8_t>(MessageKind::kModestTrained),
  // aggregator -> trainer: the model to train in `round`
  kGlobal = static_cast<uint8_t>(MessageKind::kModestGlobal),
  // aggregator -> trainer: your `round` model is aggregated
  kAck = static_cast<uint8_t>(MessageKind::kModestAck),
  // trainer -> aggregator of round-1: `round` is aggregated
  kProgress = static_cast<uint8_t>(MessageKind::kModestProgress),
};

struct ModestMembershipUpdate {
  uint32_t peer = 0;
  uint32_t incarnation = 0;
  bool alive = true;
};

inline constexpr size_t kModestUpdateBytes = 9;

// A decoded frame. `updates` views the input bytes (n x kModestUpdateBytes,
// each validated: peer < num_peers, alive in {0, 1}).
struct ModestFrame {
  ModestMessageType type = ModestMessageType::kPing;
  int64_t round = 0;
  ModestRole role = ModestRole::kTrainer;
  std::span<const uint8_t> updates;
  std::vector<float> params;
};

std::vector<uint8_t> EncodeModestFrame(ModestMessageType type, int64_t round, ModestRole role,
                                       std::span<const ModestMembershipUpdate> updates,
                                       std::span<const float> params);

// kCorrupt for an unknown type or role, round 0, more updates than
// `num_peers` or one naming a peer outside it, a model of another size than
// `model_size` in kTrained / kGlobal (or any model in the other types),
// non-finite values, truncation or trailing bytes. The result's `updates`
// points into `bytes`, which must outlive it.
Result<ModestFrame> DecodeModestFrame(std::span<const uint8_t> bytes, int64_t num_peers,
                                      size_t model_size);

}  // namespace murmur
