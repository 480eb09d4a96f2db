// Every decoder against bad bytes: truncations at every length, trailing
// bytes, other dimensions and codecs, and single-byte corruptions. A decoder
// must return kCorrupt, or (for a corruption it cannot see, e.g. in a value)
// a finite vector; never crash.
#include <gtest/gtest.h>

#include <cmath>

#include "compress_test_util.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::MustEncode;
using compress_test::MustMake;

const char* const kSpecs[] = {
    "fp32",          "fp16",           "bf16",
    "int8",          "int4:block=16",  "int2:block=0",
    "sign",          "topk:0.1",       "topk:0.5|int8",
    "randk:0.2",     "randk:0.1|fp16", "powersgd:2",
    "powersgd:1|bf16", "fedzip:0.2,clusters=4", "zstd",
    "topk:0.1|int8|zstd", "fedzip:0.3|zstd:3", "sign|zstd",
};

class CorruptFrame : public ::testing::TestWithParam<const char*> {};

TEST_P(CorruptFrame, RejectsEveryTruncationAndTrailingBytes) {
  const auto codec = MustMake(GetParam());
  const CodecContext ctx{.seed = 3, .sender = PeerId(1), .step = 4};
  for (size_t d : {size_t{0}, size_t{1}, size_t{7}, size_t{300}}) {
    SCOPED_TRACE("d=" + std::to_string(d));
    const std::vector<float> x = Gaussian(d, d);
    const std::vector<uint8_t> frame = MustEncode(*codec, x, ctx);
    std::vector<float> out(d);
    ASSERT_TRUE(codec->Decode(frame, ctx, out).ok());
    for (size_t len = 0; len < frame.size(); ++len) {
      const std::span<const uint8_t> cut(frame.data(), len);
      ASSERT_EQ(codec->Decode(cut, ctx, out).code(), StatusCode::kCorrupt) << "len=" << len;
      SparseUpdate sparse;
      ASSERT_EQ(codec->DecodeSparse(cut, ctx, d, sparse).code(), StatusCode::kCorrupt)
          << "len=" << len;
    }
    std::vector<uint8_t> longer = frame;
    longer.push_back(0);
    EXPECT_EQ(codec->Decode(longer, ctx, out).code(), StatusCode::kCorrupt);
  }
}

TEST_P(CorruptFrame, RejectsOtherDimensionsAndOtherCodecs) {
  const auto codec = MustMake(GetParam());
  const std::vector<float> x = Gaussian(64, 1);
  const std::vector<uint8_t> frame = MustEncode(*codec, x);
  for (size_t d : {size_t{0}, size_t{63}, size_t{65}, size_t{640}}) {
    std::vector<float> out(d);
    EXPECT_EQ(codec->Decode(frame, {}, out).code(), StatusCode::kCorrupt) << d;
  }
  for (const char* other : kSpecs) {
    const auto o = MustMake(other);
    if (o->name() == codec->name()) continue;
    std::vector<float> out(64);
    const Status s = o->Decode(frame, {}, out);
    // Same outer codec with other parameters may still parse (e.g. an
    // inner stage with the same id); anything else must be kCorrupt.
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kCorrupt) << other;
    }
  }
}

TEST_P(CorruptFrame, SurvivesEverySingleByteCorruption) {
  const auto codec = MustMake(GetParam());
  const CodecContext ctx{.seed = 3, .sender = PeerId(1), .step = 4};
  const std::vector<float> x = Gaussian(120, 2);
  const std::vector<uint8_t> frame = MustEncode(*codec, x, ctx);
  std::vector<float> out(x.size());
  Rng rng(11, PeerId(0), RngPurpose::kTest);
  for (size_t pos = 0; pos < frame.size(); ++pos) {
    for (uint8_t value : {uint8_t(frame[pos] ^ 0xff), uint8_t(frame[pos] ^ 1), uint8_t(0),
                          uint8_t(0xff), uint8_t(0x80), uint8_t(rng.NextU32())}) {
      std::vector<uint8_t> bad = frame;
      bad[pos] = value;
      const Status s = codec->Decode(bad, ctx, out);
      if (s.ok()) {
        for (float v : out) ASSERT_TRUE(std::isfinite(v)) << "pos=" << pos;
      } else {
        ASSERT_EQ(s.code(), StatusCode::kCorrupt) << "pos=" << pos;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CorruptFrame, ::testing::ValuesIn(kSpecs),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name;
                           for (const char* c = info.param; *c; ++c) {
                             name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
                           }
                           return name;
                         });

TEST(CorruptFrame, RejectsOverlongAndOverflowingVarints) {
  const auto codec = MustMake("fp32");
  std::vector<float> out(0);
  // Dimension 0 written as an over-long varint (0x80 0x00).
  EXPECT_EQ(codec->Decode(std::vector<uint8_t>{1, 0x80, 0x00}, {}, out).code(),
            StatusCode::kCorrupt);
  // Eleven continuation bytes.
  std::vector<uint8_t> huge = {1};
  for (int i = 0; i < 11; ++i) huge.push_back(0xff);
  EXPECT_EQ(codec->Decode(huge, {}, out).code(), StatusCode::kCorrupt);
  // A dimension above kMaxCodecDimension.
  EXPECT_EQ(codec->Decode(std::vector<uint8_t>{1, 0x80, 0x80, 0x80, 0x80, 0x10}, {}, out).code(),
            StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur
