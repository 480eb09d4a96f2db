// The wire format shared by the model-exchanging protocols (FedAvg, D-PSGD,
// gossip learning). One frame:
//   u8 kind | u32 round | u64 weight | u32 count | count x f32 (little-endian)
// `weight` carries a sample count (FedAvg) and is 0 where unused.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/status.h"
#include "murmur/protocol/message_kind.h"

namespace murmur {

// This codec's kinds; their bytes are MessageKind's (message_kind.h).
enum class ModelMessageKind : uint8_t {
  // neighbour's model for a D-PSGD round
  kDpsgdParams = static_cast<uint8_t>(MessageKind::kDpsgdParams),
  // gossip learning push
  kGossipModel = static_cast<uint8_t>(MessageKind::kGossipModel),
  // server -> client: global model for a round
  kFedAvgGlobal = static_cast<uint8_t>(MessageKind::kFedAvgGlobal),
  // client -> server: trained model and sample count
  kFedAvgUpdate = static_cast<uint8_t>(MessageKind::kFedAvgUpdate),
};

struct ModelMessage {
  ModelMessageKind kind = ModelMessageKind::kDpsgdParams;
  Round round;
  uint64_t weight = 0;
  std::vector<float> params;
};

std::vector<uint8_t> EncodeModelMessage(ModelMessageKind kind, Round round,
                                        uint64_t weight,
                                        std::span<const float> params);

// Returns kCorrupt for a kind other than `expected_kind`, a parameter count
// other than `expected_params`, non-finite values, truncation or trailing
// bytes.
Result<ModelMessage> DecodeModelMessage(std::span<const uint8_t> bytes,
                                        ModelMessageKind expected_kind,
                                        size_t expected_params);

}  // namespace murmur
