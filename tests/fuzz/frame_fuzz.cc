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

#include "fuzz_seeds.h"
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

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // A stream of one frame of every type, each with a payload of its allowed
  // length (the parser checks lengths, not MACs), from a new connection in
  // 1-, 8- and 64-byte pieces, and once from the authenticated phase (where
  // its Hello is refused), per byte 0's encoding above.
  using namespace murmur::net;
  std::vector<uint8_t> stream;
  auto frame = [&](FrameType type, size_t length) {
    const auto header = EncodeFrameHeader({.type = type, .length = static_cast<uint32_t>(length)});
    stream.insert(stream.end(), header.begin(), header.end());
    stream.resize(stream.size() + length, static_cast<uint8_t>(type) * 17);
  };
  frame(FrameType::kHello, kHelloPayload);
  frame(FrameType::kAuth, 200);
  frame(FrameType::kPeers, 300);
  frame(FrameType::kDataPart, 100 + kMacSize);
  frame(FrameType::kData, 40 + kMacSize);
  frame(FrameType::kHeartbeat, kMacSize);
  frame(FrameType::kBye, kMacSize);
  std::vector<Seed> seeds;
  for (uint8_t chunk : {0x00, 0x07, 0x3F, 0xFF}) {
    Seed s = {chunk};
    s.insert(s.end(), stream.begin(), stream.end());
    seeds.push_back(s);
  }
  return seeds;
}
