// Wire format of SybilWall's history gossip (protocol/sybilwall.h), sent
// between D-PSGD rounds beside the model messages. All integers
// little-endian; the kind byte is distinct from model_message.h's, the
// coded and the SPSA kinds.
//   u8 kind (MessageKind::kSybilWallRecord) | u32 origin | u32 round | u32 distance | u32 count | count x f32
// `distance` is the sender's hop count to `origin` (1: its neighbour); the
// receiver stores the record one hop further. The sender itself comes from
// the transport.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/status.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

inline constexpr uint8_t kSybilWallRecordKind =
    static_cast<uint8_t>(MessageKind::kSybilWallRecord);
// Larger distances are rejected, so distance + 1 never overflows; no honest
// record travels this far.
inline constexpr uint32_t kSybilWallMaxDistance = 1u << 20;

struct SybilWallRecordMessage {
  PeerId origin;
  uint32_t round = 0;
  uint32_t distance = 0;
  std::vector<float> history;
};

// True when the frame's first byte is kSybilWallRecordKind.
bool IsSybilWallRecord(std::span<const uint8_t> bytes);

std::vector<uint8_t> EncodeSybilWallRecord(PeerId origin, uint32_t round, uint32_t distance,
                                           std::span<const float> history);

// Returns kCorrupt for another kind, round 0, a distance of 0 or above
// kSybilWallMaxDistance, a value count other than `expected_params`,
// non-finite values, truncation or trailing bytes.
Result<SybilWallRecordMessage> DecodeSybilWallRecord(std::span<const uint8_t> bytes,
                                                     size_t expected_params);

}  // namespace murmur
