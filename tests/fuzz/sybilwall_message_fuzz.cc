// Fuzz target: SybilWall's history-record decoder
// (protocol/sybilwall_message.h), which D-PSGD peers run on every record a
// neighbour gossips. Byte 0 picks the expected parameter count; the rest is
// the frame with the record kind byte in front, so random inputs get past
// the kind check. Must never crash; an accepted record has the expected
// count, finite values and a distance in range, and re-encodes to the same
// bytes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/sybilwall_message.h"

namespace {

constexpr size_t kCounts[] = {0, 1, 4, 1000};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t expected = kCounts[data[0] % 4];
  std::vector<uint8_t> frame(data, data + size);
  frame[0] = murmur::kSybilWallRecordKind;
  auto record = murmur::DecodeSybilWallRecord(frame, expected);
  if (!record.ok()) return 0;
  if (record->history.size() != expected) std::abort();
  if (record->distance == 0 || record->distance > murmur::kSybilWallMaxDistance) std::abort();
  for (float v : record->history) {
    if (!std::isfinite(v)) std::abort();
  }
  const std::vector<uint8_t> again = murmur::EncodeSybilWallRecord(
      record->origin, record->round, record->distance, record->history);
  if (again != frame) std::abort();
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Byte 0 of a seed picks the count (index into kCounts above), so each real
  // record gets its kind byte replaced by that index.
  auto with_index = [](std::vector<uint8_t> frame, uint8_t index) {
    frame[0] = index;
    return frame;
  };
  const std::vector<float> four = {1.f, -2.f, 0.5f, 4.f};
  return {
      with_index(murmur::EncodeSybilWallRecord(murmur::PeerId(3), 1, 1, {}), 0),
      with_index(murmur::EncodeSybilWallRecord(murmur::PeerId(0), 7, 2, std::vector<float>{3.f}), 1),
      with_index(murmur::EncodeSybilWallRecord(murmur::PeerId(9), 12, 5, four), 2),
  };
}
