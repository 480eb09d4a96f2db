// Fuzz target: the runtime's frame parser, which sees every byte a socket
// delivers before any authentication. Must never crash or allocate beyond
// the per-type limits, however the stream is split; a frame it returns has
// exactly the payload its header announced.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "murmur/runtime/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Byte 0 picks how the stream is split (1..256-byte reads).
  const size_t chunk = size_t{data[0]} + 1;
  const std::span<const uint8_t> stream(data + 1, size - 1);
  murmur::net::FrameParser parser(/*max_data_payload=*/1 << 16);
  std::vector<murmur::net::Frame> frames;
  for (size_t pos = 0; pos < stream.size(); pos += chunk) {
    const size_t n = std::min(chunk, stream.size() - pos);
    if (!parser.Feed(stream.subspan(pos, n), frames).ok()) break;
  }
  for (const murmur::net::Frame& f : frames) {
    if (f.payload.size() != f.header.length) std::abort();
    if (f.payload.size() > (1 << 16) + murmur::net::kMacSize) std::abort();
  }
  return 0;
}
