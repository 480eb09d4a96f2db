// The wire format shared by the model-exchanging protocols (FedAvg, D-PSGD,
// gossip learning). One frame:
//   u8 kind | u32 round | u64 weight | u32 count | count x f32 (little-endian)
// `weight` carries a sample count (FedAvg) and is 0 where unused.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "murmur/core/host.h"
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

// A received model: its own floats, or a view of the floats inside a shared
// message buffer that it keeps alive, so that the neighbours holding one
// sender's model for a round share a single copy (the simulator at scale).
class ReceivedModel {
 public:
  ReceivedModel() = default;
  ReceivedModel(std::vector<float> owned) : owned_(std::move(owned)) {}  // NOLINT: implicit
  ReceivedModel(std::shared_ptr<const void> owner, std::span<const float> view)
      : owner_(std::move(owner)), view_(view) {}

  std::span<const float> view() const {
    return owner_ != nullptr ? view_ : std::span<const float>(owned_);
  }
  operator std::span<const float>() const { return view(); }  // NOLINT: implicit
  const float* data() const { return view().data(); }
  size_t size() const { return view().size(); }
  float operator[](size_t i) const { return view()[i]; }
  const float* begin() const { return data(); }
  const float* end() const { return data() + size(); }
  bool operator==(const std::vector<float>& other) const {
    return std::equal(begin(), end(), other.begin(), other.end());
  }

 private:
  std::vector<float> owned_;
  std::shared_ptr<const void> owner_;
  std::span<const float> view_;
};

// EncodeModelMessage's bytes in a buffer whose floats are float-aligned, to
// send with Host::SendShared to several peers.
SharedMessage EncodeSharedModelMessage(ModelMessageKind kind, Round round, uint64_t weight,
                                       std::span<const float> params);

struct ReceivedModelMessage {
  Round round;
  uint64_t weight = 0;
  ReceivedModel params;
};

// DecodeModelMessage, with the same checks, of a message that may be kept:
// the parameters view the shared buffer (no copy) when it came from
// EncodeSharedModelMessage with an owner, else they are copied.
Result<ReceivedModelMessage> DecodeSharedModelMessage(const SharedMessage& message,
                                                      ModelMessageKind expected_kind,
                                                      size_t expected_params);

}  // namespace murmur
