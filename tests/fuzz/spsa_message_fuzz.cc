// Fuzz target: every decoder of the SPSA and FedKSeed frames
// (protocol/spsa_message.h). The first input byte picks the decoder and the
// rest is the frame with that decoder's kind byte in front, so random inputs
// get past the kind check. Must never crash; an accepted frame must
// re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/spsa_message.h"

namespace {

using murmur::SpsaMessageKind;

void Same(const std::vector<uint8_t>& again, std::span<const uint8_t> frame) {
  if (again.size() != frame.size() || !std::equal(again.begin(), again.end(), frame.begin())) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr SpsaMessageKind kKinds[] = {
      SpsaMessageKind::kSpsaUpdate, SpsaMessageKind::kSpsaModelRequest,
      SpsaMessageKind::kSpsaModelReply, SpsaMessageKind::kKSeedRound,
      SpsaMessageKind::kKSeedUpdate};
  const SpsaMessageKind kind = kKinds[data[0] % 5];
  std::vector<uint8_t> frame(data, data + size);
  frame[0] = static_cast<uint8_t>(kind);
  switch (kind) {
    case SpsaMessageKind::kSpsaUpdate:
      if (auto u = murmur::DecodeSpsaUpdate(frame); u.ok()) Same(murmur::EncodeSpsaUpdate(*u), frame);
      break;
    case SpsaMessageKind::kSpsaModelRequest:
      if (auto s = murmur::DecodeSpsaModelRequest(frame); s.ok()) {
        Same(murmur::EncodeSpsaModelRequest(*s), frame);
      }
      break;
    case SpsaMessageKind::kSpsaModelReply:
      for (size_t expected : {size_t{0}, size_t{1}, size_t{4}}) {
        if (auto r = murmur::DecodeSpsaModelReply(frame, expected); r.ok()) {
          Same(murmur::EncodeSpsaModelReply(r->step, r->params), frame);
        }
      }
      break;
    default:
      for (uint32_t pool : {1u, 16u, 4096u}) {
        if (auto f = murmur::DecodeKSeedFrame(frame, kind, 8, pool); f.ok()) {
          for (const murmur::SeedScalar& p : f->pairs) {
            if (p.index >= pool) std::abort();
          }
          Same(murmur::EncodeKSeedFrame(*f), frame);
        }
      }
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Byte 0 of a seed picks the decoder (index into kKinds above), so each
  // real frame gets its kind byte replaced by that index.
  auto with_index = [](std::vector<uint8_t> frame, uint8_t index) {
    frame[0] = index;
    return frame;
  };
  const std::vector<float> params = {1.f, -2.f, 0.5f, 4.f};
  const murmur::KSeedFrame round{.kind = SpsaMessageKind::kKSeedRound, .round = 3,
                                 .selected = true, .pairs = {{1, 0.5f}, {7, -1.f}, {15, 2.f}}};
  const murmur::KSeedFrame update{.kind = SpsaMessageKind::kKSeedUpdate, .round = 4,
                                  .pairs = {{0, 0.25f}, {3, 1.f}}};
  return {
      with_index(murmur::EncodeSpsaUpdate({.step = 9, .q = -3}), 0),
      with_index(murmur::EncodeSpsaModelRequest(12), 1),
      with_index(murmur::EncodeSpsaModelReply(5, params), 2),
      with_index(murmur::EncodeSpsaModelReply(5, {}), 2),
      with_index(murmur::EncodeKSeedFrame(round), 3),
      with_index(murmur::EncodeKSeedFrame(update), 4),
  };
}
