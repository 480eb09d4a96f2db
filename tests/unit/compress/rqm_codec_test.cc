// The "rqm" codec (compress/rqm_codec.h): RQM's wire form in a codec frame,
// with the mechanism's randomness from CodecContext::privacy_rng only.
#include "murmur/compress/rqm_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "murmur/core/bytes.h"

namespace murmur {
namespace {

// Levels -2, -1, 0, 1, 2 (m = 5, delta = 2), every level kept (q = 1), clip 1.
const RqmConfig kFive{.clip = 1.0, .delta = 2.0, .levels = 5, .keep_probability = 1.0};

std::vector<uint8_t> Encode(const Codec& codec, std::span<const float> x, Rng& rng) {
  ByteWriter out(codec.MaxEncodedSize(x.size()));
  const CodecContext ctx{.seed = 1, .sender = PeerId(0), .step = 0, .privacy_rng = &rng};
  EXPECT_TRUE(codec.Encode(x, ctx, out).ok());
  return std::move(out).Take();
}

// Inputs on a level round to it whatever the draws (p_hi = 0); 5 and -7
// clamp to +-1 first. Indices 1, 2, 3, 3, 1 at 3 bits each, LSB first:
// 1 + 2 * 2^3 + 3 * 2^6 + 3 * 2^9 + 1 * 2^12 = 5841 = 0x16d1.
TEST(RqmCodec, EncodesAHandComputedFrameAndDecodesItsLevels) {
  const RqmCodec codec(kFive);
  const std::vector<float> x = {-1.0f, 0.0f, 1.0f, 5.0f, -7.0f};
  for (uint64_t seed : {1, 2, 3}) {
    Rng rng(seed, PeerId(0), RngPurpose::kTest);
    const std::vector<uint8_t> frame = Encode(codec, x, rng);
    const std::vector<uint8_t> want = {11, 5,             // CodecId::kRqm, dimension
                                       5,  0, 0, 0,       // count
                                       5,  0, 0, 0,       // levels
                                       0xd1, 0x16};       // packed indices
    EXPECT_EQ(frame, want) << seed;
    EXPECT_EQ(frame.size(), codec.MaxEncodedSize(x.size()));
    std::vector<float> decoded(x.size());
    ASSERT_TRUE(codec.Decode(frame, {}, decoded).ok());
    EXPECT_EQ(decoded, (std::vector<float>{-1.0f, 0.0f, 1.0f, 1.0f, -1.0f}));
  }
}

// x = 0.25 lies a quarter of the way from level 0 (index 2) to level 1
// (index 3): with every level kept it rounds up iff the rounding draw (after
// the m - 2 = 3 subset draws) is below 0.25, and the draws come from the
// privacy stream.
TEST(RqmCodec, RoundsWithoutBiasFromThePrivacyStream) {
  const RqmCodec codec(kFive);
  const std::vector<float> x = {0.25f};
  int up = 0;
  constexpr int kTrials = 4000;
  Rng rng(5, PeerId(0), RngPurpose::kTest);
  for (int t = 0; t < kTrials; ++t) {
    Rng replay = rng;
    for (int j = 0; j < 3; ++j) replay.Uniform();
    const bool expect_up = replay.Uniform() < 0.25;
    std::vector<float> decoded(1);
    ASSERT_TRUE(codec.Decode(Encode(codec, x, rng), {}, decoded).ok());
    EXPECT_EQ(decoded[0], expect_up ? 1.0f : 0.0f) << t;
    EXPECT_EQ(rng.position(), replay.position()) << t;
    up += decoded[0] == 1.0f ? 1 : 0;
  }
  // Unbiased: E = 0.25; 4000 Bernoulli(0.25) draws, 5 standard deviations.
  EXPECT_NEAR(static_cast<double>(up) / kTrials, 0.25, 5 * std::sqrt(0.25 * 0.75 / kTrials));
}

TEST(RqmCodec, RefusesToEncodeWithoutAPrivacyStream) {
  const RqmCodec codec(kFive);
  const std::vector<float> x = {0.5f};
  ByteWriter out;
  EXPECT_EQ(codec.Encode(x, CodecContext{.seed = 1}, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.size(), 0u);
}

TEST(RqmCodec, DecoderRefusesBadFrames) {
  const RqmCodec codec(kFive);
  const std::vector<uint8_t> good = {11, 2, 2, 0, 0, 0, 5, 0, 0, 0, 0x0a};  // indices 2, 1
  std::vector<float> out(2);
  ASSERT_TRUE(codec.Decode(good, {}, out).ok());
  EXPECT_EQ(out, (std::vector<float>{0.0f, -1.0f}));
  auto corrupt = [&](std::vector<uint8_t> frame, size_t dim = 2) {
    std::vector<float> o(dim);
    return codec.Decode(frame, {}, o).code() == StatusCode::kCorrupt;
  };
  std::vector<uint8_t> bad = good;
  bad[10] = 0x07;  // index 7 >= 5 levels
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad[6] = 6;  // levels 6, not the receiver's 5
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad.push_back(0);  // trailing byte
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad.pop_back();  // truncated
  EXPECT_TRUE(corrupt(bad));
  bad = good;
  bad[10] = 0x4a;  // a padding bit set
  EXPECT_TRUE(corrupt(bad));
  EXPECT_TRUE(corrupt(good, 3));  // another dimension
  bad = good;
  bad[0] = 1;  // the fp32 codec's id
  EXPECT_TRUE(corrupt(bad));
}

TEST(RqmCodec, SpecNamesItsConfigAndRefusesBadValuesAndStructureStages) {
  Result<std::unique_ptr<Codec>> codec = MakeCodec("rqm:clip=0.05,delta=0.075,levels=16,keep=0.5");
  ASSERT_TRUE(codec.ok()) << codec.status().ToString();
  EXPECT_EQ((*codec)->id(), CodecId::kRqm);
  EXPECT_EQ((*codec)->name(), "rqm:clip=0.05,delta=0.075,levels=16,keep=0.5");
  EXPECT_EQ(MakeCodec((*codec)->name()).value()->name(), (*codec)->name());
  EXPECT_EQ(MakeCodec("rqm").value()->name(), "rqm:clip=1,delta=2,levels=16,keep=0.5");
  EXPECT_TRUE(MakeCodec("rqm:levels=4|zstd").ok());
  for (const char* bad : {"rqm:clip=2,delta=1", "rqm:levels=2", "rqm:keep=0", "rqm:keep=1.5",
                          "rqm:clip=x", "rqm:bits=3", "topk:0.1|rqm", "rqm|int8"}) {
    EXPECT_EQ(MakeCodec(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace murmur
