// Fuzz target: MoDeST's frame decoder (protocol/modest_message.h), which
// every MoDeST peer runs on every message. Byte 0 picks the view size and
// model size the decoder expects; the rest is the frame. Must never crash;
// an accepted frame has a known type, round >= 1, updates naming peers in
// the view, a model of exactly the expected size (only in kTrained and
// kGlobal) with finite values, and re-encodes to the same bytes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/modest_message.h"

namespace {

struct Shape {
  int64_t peers;
  size_t model;
};
constexpr Shape kShapes[] = {{1, 0}, {4, 3}, {16, 8}, {1000, 1}};

uint32_t Load(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Shape shape = kShapes[data[0] % 4];
  const std::span<const uint8_t> frame(data + 1, size - 1);
  auto decoded = murmur::DecodeModestFrame(frame, shape.peers, shape.model);
  if (!decoded.ok()) return 0;
  using murmur::ModestMessageType;
  const bool has_model = decoded->type == ModestMessageType::kTrained ||
                         decoded->type == ModestMessageType::kGlobal;
  if (decoded->round < 1) std::abort();
  if (decoded->params.size() != (has_model ? shape.model : 0)) std::abort();
  for (float v : decoded->params) {
    if (!std::isfinite(v)) std::abort();
  }
  if (decoded->updates.size() % murmur::kModestUpdateBytes != 0) std::abort();
  std::vector<murmur::ModestMembershipUpdate> updates;
  for (size_t off = 0; off < decoded->updates.size(); off += murmur::kModestUpdateBytes) {
    const uint8_t* u = decoded->updates.data() + off;
    if (Load(u) >= static_cast<uint64_t>(shape.peers) || u[8] > 1) std::abort();
    updates.push_back({.peer = Load(u), .incarnation = Load(u + 4), .alive = u[8] == 1});
  }
  const std::vector<uint8_t> again = murmur::EncodeModestFrame(
      decoded->type, decoded->round, decoded->role, updates, decoded->params);
  if (again.size() != frame.size() || !std::equal(again.begin(), again.end(), frame.begin())) {
    std::abort();
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Byte 0 picks the shape (index into kShapes above).
  auto with_shape = [](uint8_t index, std::vector<uint8_t> frame) {
    Seed s = {index};
    s.insert(s.end(), frame.begin(), frame.end());
    return s;
  };
  using murmur::ModestMessageType;
  using murmur::ModestRole;
  const std::vector<murmur::ModestMembershipUpdate> updates = {{2, 1, false}, {3, 4, true}};
  const std::vector<float> model = {0.5f, -1.f, 2.f};
  return {
      with_shape(0, murmur::EncodeModestFrame(ModestMessageType::kPing, 1,
                                              ModestRole::kAggregator, {}, {})),
      with_shape(1, murmur::EncodeModestFrame(ModestMessageType::kPong, 7, ModestRole::kTrainer,
                                              updates, {})),
      with_shape(1, murmur::EncodeModestFrame(ModestMessageType::kTrained, 3,
                                              ModestRole::kTrainer, updates, model)),
      with_shape(1, murmur::EncodeModestFrame(ModestMessageType::kGlobal, 4,
                                              ModestRole::kTrainer, {}, model)),
      with_shape(2, murmur::EncodeModestFrame(ModestMessageType::kAck, 9, ModestRole::kTrainer,
                                              updates, {})),
      with_shape(2, murmur::EncodeModestFrame(ModestMessageType::kProgress, 10,
                                              ModestRole::kTrainer, {}, {})),
  };
}
