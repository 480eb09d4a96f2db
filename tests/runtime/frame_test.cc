// The frame codec: header layout, per-type length limits, and the
// incremental parser over arbitrarily split streams.
#include "murmur/runtime/frame.h"

#include <gtest/gtest.h>

#include "murmur/core/rng.h"

namespace murmur::net {
namespace {

std::vector<uint8_t> Header(FrameType type, uint32_t length) {
  const auto h = EncodeFrameHeader({.type = type, .length = length});
  return std::vector<uint8_t>(h.begin(), h.end());
}

Result<FrameHeader> Decode(const std::vector<uint8_t>& bytes, size_t max_data = 1000) {
  return DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderSize>(bytes.data(), kFrameHeaderSize),
                           max_data);
}

TEST(FrameHeader, HasTheDocumentedLayout) {
  // docs/wire.md: "MRMR", version 1, type, two zero flag bytes, u32 LE length.
  EXPECT_EQ(Header(FrameType::kData, 0x01020304),
            (std::vector<uint8_t>{'M', 'R', 'M', 'R', 1, 3, 0, 0, 4, 3, 2, 1}));
  Result<FrameHeader> h = Decode(Header(FrameType::kData, 116));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->type, FrameType::kData);
  EXPECT_EQ(h->length, 116u);
}

TEST(FrameHeader, RejectsBadMagicVersionFlagsAndType) {
  auto bytes = Header(FrameType::kData, 100);
  bytes[0] = 'G';
  EXPECT_EQ(Decode(bytes).status().code(), StatusCode::kCorrupt);
  bytes = Header(FrameType::kData, 100);
  bytes[4] = 2;
  EXPECT_NE(Decode(bytes).status().message().find("version 2"), std::string::npos);
  bytes = Header(FrameType::kData, 100);
  bytes[7] = 1;
  EXPECT_NE(Decode(bytes).status().message().find("flags"), std::string::npos);
  bytes = Header(FrameType::kData, 100);
  bytes[5] = 99;
  EXPECT_NE(Decode(bytes).status().message().find("unknown type 99"), std::string::npos);
}

TEST(FrameHeader, EnforcesPerTypeLengths) {
  EXPECT_TRUE(Decode(Header(FrameType::kHello, 32)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kHello, 33)).ok());
  EXPECT_TRUE(Decode(Header(FrameType::kHeartbeat, 16)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kHeartbeat, 17)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kBye, 0)).ok());
  EXPECT_TRUE(Decode(Header(FrameType::kAuth, 4096)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kAuth, 4097)).ok());
  // Data: up to max_data message bytes plus the 16-byte MAC.
  EXPECT_TRUE(Decode(Header(FrameType::kData, 1016), 1000).ok());
  Result<FrameHeader> big = Decode(Header(FrameType::kData, 1017), 1000);
  EXPECT_NE(big.status().message().find("exceeds the limit of 1000"), std::string::npos);
  EXPECT_FALSE(Decode(Header(FrameType::kData, 15), 1000).ok());
  // A leading chunk of a long message is exactly one chunk plus the MAC.
  EXPECT_TRUE(Decode(Header(FrameType::kDataPart, kDataChunk + kMacSize)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kDataPart, kDataChunk)).ok());
}

TEST(FrameParser, RejectsOversizedFrameFromItsHeaderAlone) {
  // A 4 GiB length must fail at the header: nothing allocated, nothing read.
  FrameParser parser(1 << 20);
  std::vector<Frame> frames;
  Status s = parser.Feed(Header(FrameType::kData, 0xffffffff), frames);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_TRUE(frames.empty());
  // The stream is unusable afterwards.
  EXPECT_FALSE(parser.Feed(Header(FrameType::kHeartbeat, 16), frames).ok());
}

TEST(FrameParser, ReassemblesFramesSplitAnywhere) {
  std::vector<uint8_t> stream;
  std::vector<std::vector<uint8_t>> payloads;
  for (uint32_t len : {16u, 40u, 300u, 17u}) {
    auto h = Header(FrameType::kData, len);
    stream.insert(stream.end(), h.begin(), h.end());
    std::vector<uint8_t> p(len);
    for (uint32_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(i * 7 + len);
    stream.insert(stream.end(), p.begin(), p.end());
    payloads.push_back(p);
  }
  Rng rng(7, PeerId(0), RngPurpose::kTest);
  for (int trial = 0; trial < 50; ++trial) {
    FrameParser parser(1000);
    std::vector<Frame> frames;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t n = std::min(stream.size() - pos, 1 + rng.UniformInt(40));
      ASSERT_TRUE(parser.Feed(std::span(stream).subspan(pos, n), frames).ok());
      pos += n;
    }
    ASSERT_EQ(frames.size(), payloads.size()) << "trial " << trial;
    for (size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(frames[i].payload, payloads[i]);
      EXPECT_EQ(frames[i].header.type, FrameType::kData);
    }
  }
}

TEST(FrameParser, TruncatedFrameYieldsNothing) {
  auto stream = Header(FrameType::kData, 100);
  stream.resize(stream.size() + 99);
  FrameParser parser(1000);
  std::vector<Frame> frames;
  ASSERT_TRUE(parser.Feed(stream, frames).ok());
  EXPECT_TRUE(frames.empty());
}

}  // namespace
}  // namespace murmur::net
