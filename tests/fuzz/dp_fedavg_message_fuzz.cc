// Fuzz target: the DP FedAvg frames of adaptive clipping in local mode
// (protocol/dp_fedavg_message.h): a client decodes the server's global
// model and clip, the server every client's update and noisy clip bit. Byte
// 0 picks the decoder; the rest follows the right kind byte. Must never
// crash; an accepted frame keeps its value within the stated bound and
// re-encodes to the same bytes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/dp_fedavg_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<uint8_t> frame(data, data + size);
  const bool global = data[0] % 2 == 0;
  frame[0] = global ? 0x05 : 0x06;
  const auto kind = global ? murmur::DpFedAvgKind::kGlobal : murmur::DpFedAvgKind::kUpdate;
  auto message = murmur::DecodeDpFedAvgMessage(frame, kind, 3);
  if (!message.ok()) return 0;
  if (global ? !(message->value > 0 && message->value <= murmur::kMaxDpClip)
             : !(std::abs(message->value) <= murmur::kMaxDpClipBit)) {
    std::abort();
  }
  for (float v : message->params) {
    if (!std::isfinite(v)) std::abort();
  }
  if (murmur::EncodeDpFedAvgMessage(kind, message->round, message->value, message->params) !=
      frame) {
    std::abort();
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  const std::vector<float> three = {1.f, -2.f, 0.5f};
  auto global = murmur::EncodeDpFedAvgMessage(murmur::DpFedAvgKind::kGlobal, murmur::Round(3),
                                              0.125, three);
  auto update = murmur::EncodeDpFedAvgMessage(murmur::DpFedAvgKind::kUpdate, murmur::Round(3),
                                              -0.5, three);
  global[0] = 0;
  update[0] = 1;
  return {global, update};
}
