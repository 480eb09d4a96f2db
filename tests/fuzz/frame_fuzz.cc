// Fuzz target: the runtime's frame parser, which sees every byte a socket
// delivers before any authentication. Must never crash or allocate beyond
// the per-type limits, however the stream is split; a frame it returns has
// exactly the payload its header announced.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fuzz_seeds.h"
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

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  // A stream of one frame of every type, each with a payload of its allowed
  // length (the parser checks lengths, not MACs), read in 1-, 8- and
  // 256-byte pieces (byte 0).
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
  for (uint8_t chunk : {0, 7, 255}) {
    Seed s = {chunk};
    s.insert(s.end(), stream.begin(), stream.end());
    seeds.push_back(s);
  }
  return seeds;
}
