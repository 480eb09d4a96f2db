// The frame codec: header layout, per-type length limits, what each
// connection phase accepts, and the incremental parser over arbitrarily
// split streams.
#include "murmur/runtime/frame.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "murmur/core/rng.h"

namespace murmur::net {
namespace {

std::vector<uint8_t> Header(FrameType type, uint32_t length) {
  const auto h = EncodeFrameHeader({.type = type, .length = length});
  return std::vector<uint8_t>(h.begin(), h.end());
}

// A header and `length` payload bytes of `fill` (allocated at once, which
// also keeps GCC 12's -Warray-bounds false positive on growth away).
std::vector<uint8_t> WireFrame(FrameType type, uint32_t length, uint8_t fill) {
  std::vector<uint8_t> out(kFrameHeaderSize + length, fill);
  const auto h = EncodeFrameHeader({.type = type, .length = length});
  std::copy(h.begin(), h.end(), out.begin());
  return out;
}

// The phase in which a frame of `type` belongs.
FramePhase PhaseOf(FrameType type) {
  if (type == FrameType::kHello || type == FrameType::kCookieReply) return FramePhase::kHello;
  if (type == FrameType::kAuth) return FramePhase::kAuth;
  return FramePhase::kOpen;
}

Result<FrameHeader> Decode(const std::vector<uint8_t>& bytes, size_t max_data = 1000,
                           std::optional<FramePhase> phase = std::nullopt) {
  return DecodeFrameHeader(std::span<const uint8_t, kFrameHeaderSize>(bytes.data(), kFrameHeaderSize),
                           phase.value_or(PhaseOf(static_cast<FrameType>(bytes[5]))), max_data);
}

TEST(FrameHeader, HasTheDocumentedLayout) {
  // docs/wire.md: "MRMR", version 6, type, two zero flag bytes, u32 LE length.
  EXPECT_EQ(Header(FrameType::kData, 0x01020304),
            (std::vector<uint8_t>{'M', 'R', 'M', 'R', 6, 3, 0, 0, 4, 3, 2, 1}));
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
  bytes[4] = 1;  // a peer of the previous wire version
  EXPECT_NE(Decode(bytes).status().message().find("version 1"), std::string::npos);
  bytes = Header(FrameType::kData, 100);
  bytes[7] = 1;
  EXPECT_NE(Decode(bytes).status().message().find("flags"), std::string::npos);
  bytes = Header(FrameType::kData, 100);
  bytes[5] = 99;
  EXPECT_NE(Decode(bytes).status().message().find("unknown type 99"), std::string::npos);
}

TEST(FrameHeader, EnforcesPerTypeLengths) {
  EXPECT_TRUE(Decode(Header(FrameType::kHello, 64)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kHello, 49)).ok());
  EXPECT_TRUE(Decode(Header(FrameType::kHeartbeat, 16)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kHeartbeat, 17)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kBye, 0)).ok());
  EXPECT_TRUE(Decode(Header(FrameType::kShmOffer, 16)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kShmOffer, 17)).ok());
  EXPECT_TRUE(Decode(Header(FrameType::kShmSwitch, 16)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kShmSwitch, 48)).ok());
  EXPECT_FALSE(Decode(Header(static_cast<FrameType>(11), 16)).ok());  // unknown
  EXPECT_TRUE(Decode(Header(FrameType::kAuth, 4096)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kAuth, 4097)).ok());
  // Data: up to max_data message bytes plus the 16-byte MAC.
  EXPECT_TRUE(Decode(Header(FrameType::kData, 1016), 1000).ok());
  Result<FrameHeader> big = Decode(Header(FrameType::kData, 1017), 1000);
  EXPECT_NE(big.status().message().find("exceeds the limit of 1000"), std::string::npos);
  EXPECT_FALSE(Decode(Header(FrameType::kData, 15), 1000).ok());
  // ... and never more than one chunk, however large max_data is: longer
  // messages travel as DataPart chunks.
  EXPECT_TRUE(Decode(Header(FrameType::kData, kDataChunk + kMacSize), 256 << 20).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kData, kDataChunk + kMacSize + 1), 256 << 20).ok());
  // A leading chunk of a long message is exactly one chunk plus the MAC.
  EXPECT_TRUE(Decode(Header(FrameType::kDataPart, kDataChunk + kMacSize)).ok());
  EXPECT_FALSE(Decode(Header(FrameType::kDataPart, kDataChunk)).ok());
}

TEST(FrameHeader, EachPhaseAcceptsOnlyItsFrameTypes) {
  const FrameType all[] = {FrameType::kHello, FrameType::kAuth, FrameType::kData,
                           FrameType::kHeartbeat, FrameType::kPeers, FrameType::kBye,
                           FrameType::kDataPart, FrameType::kCookieReply,
                           FrameType::kShmOffer, FrameType::kShmSwitch};
  for (FrameType type : all) {
    SCOPED_TRACE(std::string(FrameTypeName(type)));
    // A length valid for the type, so only the phase can refuse it.
    uint32_t length = 16;
    if (type == FrameType::kHello) length = 64;
    if (type == FrameType::kCookieReply) length = 56;
    if (type == FrameType::kDataPart) length = kDataChunk + kMacSize;
    const auto h = Header(type, length);
    const bool first = type == FrameType::kHello || type == FrameType::kCookieReply;
    EXPECT_EQ(Decode(h, 1 << 20, FramePhase::kHello).ok(), first);
    EXPECT_EQ(Decode(h, 1 << 20, FramePhase::kAuth).ok(), type == FrameType::kAuth);
    EXPECT_EQ(Decode(h, 1 << 20, FramePhase::kOpen).ok(), !first && type != FrameType::kAuth);
  }
  Result<FrameHeader> early = Decode(Header(FrameType::kData, 100), 1000, FramePhase::kHello);
  EXPECT_NE(early.status().message().find("data frame of 100 bytes before authentication"),
            std::string::npos)
      << early.status().message();
}

TEST(FrameParser, StrangerAnnouncingAHugeDataFrameGetsNoMemory) {
  // A new connection's first header claims a 200 MiB data frame, within
  // the 256 MiB message limit: refused from the header alone, before any
  // payload memory exists, because only a Hello may come first.
  FrameParser parser(size_t{256} << 20, FramePhase::kHello);
  std::vector<Frame> frames;
  Status s = parser.Feed(Header(FrameType::kData, 200u << 20), frames);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find("before authentication"), std::string::npos) << s.message();
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(parser.buffer_capacity(), 0u);
  // After a Hello, only an Auth of at most 4 KiB: a data frame or a bigger
  // Auth is refused as well.
  for (const auto& second : {Header(FrameType::kData, 200u << 20), Header(FrameType::kAuth, 4097),
                             Header(FrameType::kHello, 64)}) {
    FrameParser p(size_t{256} << 20, FramePhase::kHello);
    std::vector<uint8_t> stream = WireFrame(FrameType::kHello, 64, 1);
    stream.insert(stream.end(), second.begin(), second.end());
    std::vector<Frame> got;
    EXPECT_EQ(p.Feed(stream, got).code(), StatusCode::kCorrupt);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].header.type, FrameType::kHello);
    EXPECT_EQ(p.phase(), FramePhase::kAuth);
    EXPECT_LE(p.buffer_capacity(), kMaxHandshakePayload);
  }
}

TEST(FrameParser, FollowsTheHandshakeAndBoundsEveryFrame) {
  // Hello, a 4 KiB Auth, then a 1 MiB data frame: each phase's largest.
  std::vector<uint8_t> stream = WireFrame(FrameType::kHello, 64, 1);
  const auto auth = WireFrame(FrameType::kAuth, kMaxHandshakePayload, 2);
  stream.insert(stream.end(), auth.begin(), auth.end());
  const size_t data_header_at = stream.size();
  const auto data = WireFrame(FrameType::kData, kDataChunk + kMacSize, 3);
  stream.insert(stream.end(), data.begin(), data.end());
  FrameParser parser(size_t{256} << 20, FramePhase::kHello);
  std::vector<Frame> frames;
  size_t most_before_open = 0;
  for (size_t pos = 0; pos < data_header_at; pos += 1000) {
    const size_t n = std::min<size_t>(1000, data_header_at - pos);
    ASSERT_TRUE(parser.Feed(std::span(stream).subspan(pos, n), frames).ok());
    most_before_open = std::max(most_before_open, parser.buffer_capacity());
  }
  EXPECT_EQ(parser.phase(), FramePhase::kOpen);
  EXPECT_EQ(parser.partial_bytes(), 0u);
  EXPECT_LE(most_before_open, kMaxHandshakePayload);
  ASSERT_TRUE(parser.Feed(std::span(stream).subspan(data_header_at, 100), frames).ok());
  EXPECT_EQ(parser.partial_bytes(), 100u);
  EXPECT_LE(parser.buffer_capacity(), kDataChunk + kMacSize);
  ASSERT_TRUE(parser.Feed(std::span(stream).subspan(data_header_at + 100), frames).ok());
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[1].payload.size(), kMaxHandshakePayload);
  EXPECT_EQ(frames[2].payload.size(), kDataChunk + kMacSize);
  EXPECT_EQ(parser.partial_bytes(), 0u);
  // An authenticated peer cannot announce a longer single frame either.
  EXPECT_FALSE(parser.Feed(Header(FrameType::kData, 200u << 20), frames).ok());
  EXPECT_EQ(parser.buffer_capacity(), 0u);
}

TEST(FrameParser, RejectsOversizedFrameFromItsHeaderAlone) {
  // A 4 GiB length must fail at the header: nothing allocated, nothing read.
  FrameParser parser(1 << 20, FramePhase::kOpen);
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
    FrameParser parser(1000, FramePhase::kOpen);
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
  FrameParser parser(1000, FramePhase::kOpen);
  std::vector<Frame> frames;
  ASSERT_TRUE(parser.Feed(stream, frames).ok());
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(parser.partial_bytes(), kFrameHeaderSize + 99);
}

}  // namespace
}  // namespace murmur::net
