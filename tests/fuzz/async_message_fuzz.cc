// Fuzz target: the asynchronous FL frame decoder (FedAsync, FedBuff,
// FedCompass servers and clients run it on peer bytes). Must never crash,
// and a frame it accepts must re-encode to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include <vector>

#include "fuzz_seeds.h"
#include "murmur/protocol/async_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  for (murmur::AsyncMessageKind kind :
       {murmur::AsyncMessageKind::kTask, murmur::AsyncMessageKind::kUpdate}) {
    for (size_t expected : {size_t{0}, size_t{1}, size_t{3}, size_t{16}}) {
      murmur::Result<murmur::AsyncMessage> m = murmur::DecodeAsyncMessage(bytes, kind, expected);
      if (!m.ok()) continue;
      const std::vector<uint8_t> again = murmur::EncodeAsyncMessage(*m);
      if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
    }
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  std::vector<Seed> seeds;
  for (murmur::AsyncMessageKind kind :
       {murmur::AsyncMessageKind::kTask, murmur::AsyncMessageKind::kUpdate}) {
    for (size_t n : {size_t{0}, size_t{3}, size_t{16}}) {
      murmur::AsyncMessage m{.kind = kind,
                             .version = static_cast<uint32_t>(7 + n),
                             .samples = kind == murmur::AsyncMessageKind::kUpdate ? 100u : 0u,
                             .steps = kind == murmur::AsyncMessageKind::kUpdate ? 20u : 0u,
                             .compute_s = kind == murmur::AsyncMessageKind::kUpdate ? 0.5 : 0.0,
                             .values = std::vector<float>(n, 0.25f)};
      seeds.push_back(murmur::EncodeAsyncMessage(m));
    }
  }
  return seeds;
}
