// Fuzz target: the model-message decoder every protocol runs on peer bytes.
// Must never crash, and a frame it accepts must re-encode to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/model_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  const murmur::ModelMessageKind kind =
      size > 0 ? static_cast<murmur::ModelMessageKind>(data[0])
               : murmur::ModelMessageKind::kDpsgdParams;
  for (size_t expected : {size_t{0}, size_t{1}, size_t{3}, size_t{16}}) {
    murmur::Result<murmur::ModelMessage> m = murmur::DecodeModelMessage(bytes, kind, expected);
    if (!m.ok()) continue;
    const std::vector<uint8_t> again =
        murmur::EncodeModelMessage(m->kind, m->round, m->weight, m->params);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // Every kind, at each size the target decodes at.
  std::vector<Seed> seeds;
  for (uint8_t kind = 1; kind <= 4; ++kind) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{16}}) {
      std::vector<float> params(n);
      for (size_t i = 0; i < n; ++i) params[i] = 0.5f * static_cast<float>(i) - 1.f;
      seeds.push_back(murmur::EncodeModelMessage(static_cast<murmur::ModelMessageKind>(kind),
                                                 murmur::Round(kind + n), 10 * n, params));
    }
  }
  return seeds;
}
