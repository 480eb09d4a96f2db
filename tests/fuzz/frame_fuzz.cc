// Fuzz target: the runtime's frame parser, which sees every byte a socket
// delivers before any authentication. Must never crash, and however the
// stream is split: a frame it returns has exactly the payload its header
// announced and a type the connection's phase accepts (Hello, then Auth,
// then no handshake frame), and the parser never holds more frame memory
// than the phase allows (kMaxHandshakePayload before authentication, one
// chunk after it), with the runtime's default 256 MiB message limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "murmur/runtime/frame.h"

namespace {

using murmur::net::FramePhase;
using murmur::net::FrameType;

size_t MemoryLimit(FramePhase phase) {
  return phase == FramePhase::kOpen ? murmur::net::kDataChunk + murmur::net::kMacSize
                                    : murmur::net::kMaxHandshakePayload;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Byte 0: the top two bits pick the phase the stream starts in (0 a new
  // connection, 1 after its Hello, 2 and 3 authenticated), the low six how
  // it is split (1..64-byte reads).
  const FramePhase start = static_cast<FramePhase>(std::min(data[0] >> 6, 2));
  const size_t chunk = size_t{data[0] & 63u} + 1;
  const std::span<const uint8_t> stream(data + 1, size - 1);
  murmur::net::FrameParser parser(/*max_data_payload=*/size_t{256} << 20, start);
  std::vector<murmur::net::Frame> frames;
  for (size_t pos = 0; pos < stream.size(); pos += chunk) {
    const size_t n = std::min(chunk, stream.size() - pos);
    const bool ok = parser.Feed(stream.subspan(pos, n), frames).ok();
    if (parser.buffer_capacity() > MemoryLimit(parser.phase())) std::abort();
    if (!ok) break;
  }
  FramePhase phase = start;
  for (const murmur::net::Frame& f : frames) {
    const FrameType type = f.header.type;
    if (f.payload.size() != f.header.length) std::abort();
    if (f.payload.size() > MemoryLimit(phase)) std::abort();
    switch (phase) {
      case FramePhase::kHello:
        if (type != FrameType::kHello) std::abort();
        phase = FramePhase::kAuth;
        break;
      case FramePhase::kAuth:
        if (type != FrameType::kAuth) std::abort();
        phase = FramePhase::kOpen;
        break;
      case FramePhase::kOpen:
        if (type == FrameType::kHello || type == FrameType::kAuth) std::abort();
        break;
    }
  }
  if (phase != parser.phase()) std::abort();
  return 0;
}
