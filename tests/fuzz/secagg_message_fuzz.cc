// Fuzz target: the SecAgg FedAvg frames (protocol/secagg_message.h), which
// a client runs on every server frame and the server on every client
// frame. Byte 0 picks the decoder (setup without or with the adaptive
// clip field, or a phase in either direction); the rest follows the right
// kind byte. Must never crash; an accepted frame
// re-encodes to the same bytes and respects the index and phase bounds.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/secagg_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> frame(data, data + size);
  const uint8_t which = data[0] % 4;
  frame[0] = static_cast<uint8_t>(0x60 + (which == 3 ? 0 : which));
  if (which == 0 || which == 3) {
    const bool with_clip = which == 3;
    auto setup = murmur::DecodeSecAggSetup(frame, 3, with_clip);
    if (!setup.ok()) return 0;
    if (setup->index >= setup->clients || setup->global.size() != 3) std::abort();
    for (float v : setup->global) {
      if (!std::isfinite(v)) std::abort();
    }
    if (with_clip != (setup->clip > 0) || !(setup->clip <= 1e12)) std::abort();
    if (murmur::EncodeSecAggSetup(setup->round, setup->clients, setup->index, setup->graph_seed,
                                  setup->global, setup->clip) != frame) {
      std::abort();
    }
    return 0;
  }
  const auto direction =
      which == 1 ? murmur::SecAggDirection::kToClient : murmur::SecAggDirection::kToServer;
  auto message = murmur::DecodeSecAggPhase(frame, direction);
  if (!message.ok()) return 0;
  const uint8_t phases =
      which == 1 ? murmur::kSecAggServerPhases : murmur::kSecAggClientPhases;
  if (message->phase >= phases) std::abort();
  if (murmur::EncodeSecAggPhase(direction, message->round, message->phase, message->bytes) !=
      frame) {
    std::abort();
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  auto with_index = [](std::vector<uint8_t> frame, uint8_t index) {
    frame[0] = index;
    return frame;
  };
  const std::vector<float> three = {1.f, -2.f, 0.5f};
  const std::vector<uint8_t> payload = {0, 0, 0, 0, 7};
  return {
      with_index(murmur::EncodeSecAggSetup(murmur::Round(1), 4, 2, 99, three), 0),
      with_index(murmur::EncodeSecAggSetup(murmur::Round(1), 4, 2, 99, three, 0.75), 3),
      with_index(murmur::EncodeSecAggPhase(murmur::SecAggDirection::kToClient, murmur::Round(2),
                                           1, payload), 1),
      with_index(murmur::EncodeSecAggPhase(murmur::SecAggDirection::kToServer, murmur::Round(3),
                                           3, payload), 2),
  };
}
