#include "murmur/compress/sparsify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "compress/index_coding.h"
#include "compress_test_util.h"
#include "murmur/compress/quantize.h"

namespace murmur {
namespace {

using compress_test::Gaussian;
using compress_test::MustDecode;
using compress_test::MustEncode;
using compress_test::MustMake;

// Reference: sort indices by (|x| descending, index ascending), take k.
std::vector<uint32_t> BruteForceTopK(std::span<const float> x, size_t k) {
  std::vector<uint32_t> order(x.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return std::abs(x[a]) > std::abs(x[b]); });
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

TEST(TopKIndices, KeepsExactlyTheKLargestMagnitudesOverManySeeds) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    const size_t d = 1 + seed * 97;
    std::vector<float> x = Gaussian(d, seed);
    // Some exact duplicates and zeros to exercise ties.
    for (size_t i = 0; i + 3 < d; i += 7) x[i + 3] = -x[i];
    for (size_t i = 5; i < d; i += 11) x[i] = 0.0f;
    for (size_t k : {size_t{0}, size_t{1}, d / 100, d / 10, d / 2, d}) {
      ASSERT_EQ(TopKIndices(x, k), BruteForceTopK(x, k)) << "k=" << k;
    }
  }
}

// Large values exactly at the positions the threshold sample looks at make
// the sample overestimate the threshold; the exact fallback must kick in.
TEST(TopKIndices, ExactWhenTheSampleIsMisleading) {
  const size_t d = 1000000;
  std::vector<float> x = Gaussian(d, 77, 1e-3);
  const size_t stride = d / 65536;
  for (size_t j = 0; j < 1000; ++j) x[j * stride] = 100.0f + static_cast<float>(j);
  EXPECT_EQ(TopKIndices(x, 10000), BruteForceTopK(x, 10000));
  // And a vector that is constant in magnitude (every value a tie).
  std::vector<float> flat(d, 1.0f);
  for (size_t i = 0; i < d; i += 2) flat[i] = -1.0f;
  std::vector<uint32_t> first(5000);
  std::iota(first.begin(), first.end(), 0u);
  EXPECT_EQ(TopKIndices(flat, 5000), first);
}

// Top-k finds non-finite values without a separate pass; it must still find
// every one of them, wherever it sits and whatever k is.
TEST(TopKCodec, RejectsNonFiniteValuesAnywhere) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const size_t d = 200000;
  const std::vector<float> base = Gaussian(d, 12);
  for (const char* spec : {"topk:0.01", "topk:k=1", "topk:1", "topk:0.5", "fedzip:0.01"}) {
    const auto codec = MustMake(spec);
    for (size_t pos : {size_t{0}, size_t{1}, size_t{3}, d / 2, d - 1}) {
      for (float bad : {inf, -inf, nan}) {
        for (size_t copies : {size_t{1}, size_t{5000}}) {
          std::vector<float> x = base;
          for (size_t c = 0; c < copies; ++c) x[(pos + 7 * c) % d] = bad;
          ByteWriter out;
          const Status s = codec->Encode(x, {}, out);
          ASSERT_EQ(s.code(), StatusCode::kInvalidArgument)
              << spec << " pos=" << pos << " bad=" << bad << " copies=" << copies;
          ASSERT_EQ(out.size(), 0u);
        }
      }
    }
  }
}

TEST(TopKIndices, TiesKeepTheSmallestIndices) {
  const std::vector<float> x = {1, -2, 2, 0, -2, 2, 3};
  EXPECT_EQ(TopKIndices(x, 3), (std::vector<uint32_t>{1, 2, 6}));
  const std::vector<float> flat(1000, 0.5f);
  std::vector<uint32_t> first(10);
  std::iota(first.begin(), first.end(), 0u);
  EXPECT_EQ(TopKIndices(flat, 10), first);
}

TEST(TopKCodec, DecodesTheKeptValuesExactlyAndZerosElsewhere) {
  TopKCodec codec(SparsityLevel::Count(3), nullptr);
  const std::vector<float> x = {0.1f, -5.0f, 0.2f, 4.0f, -0.3f, 3.0f};
  const std::vector<float> y = compress_test::RoundTrip(codec, x);
  EXPECT_EQ(y, (std::vector<float>{0, -5.0f, 0, 4.0f, 0, 3.0f}));
  SparseUpdate sparse;
  ASSERT_TRUE(codec.DecodeSparse(MustEncode(codec, x), {}, x.size(), sparse).ok());
  EXPECT_EQ(sparse.indices, (std::vector<uint32_t>{1, 3, 5}));
  EXPECT_EQ(sparse.values, (std::vector<float>{-5.0f, 4.0f, 3.0f}));
}

TEST(IndexCoding, PicksTheSmallerOfVarintsAndBitmap) {
  using compress_internal::ChooseIndexCoding;
  using compress_internal::IndexCoding;
  // 10 indices of 1e6: varints (~3 bytes each) beat a 125000-byte bitmap.
  std::vector<uint32_t> sparse;
  for (uint32_t i = 0; i < 10; ++i) sparse.push_back(i * 99991);
  EXPECT_EQ(ChooseIndexCoding(sparse, 1000000), IndexCoding::kDeltaVarint);
  // Every other index of 1000: 500 one-byte varints vs a 125-byte bitmap.
  std::vector<uint32_t> dense;
  for (uint32_t i = 0; i < 1000; i += 2) dense.push_back(i);
  EXPECT_EQ(ChooseIndexCoding(dense, 1000), IndexCoding::kBitmap);
  EXPECT_EQ(compress_internal::DeltaVarintBytes(dense), 500u);
  // And the frame really carries the smaller one.
  for (const auto& [indices, expected] :
       {std::pair{sparse, IndexCoding::kDeltaVarint}, std::pair{dense, IndexCoding::kBitmap}}) {
    const size_t dim = indices.size() == 10 ? 1000000 : 1000;
    ByteWriter w;
    compress_internal::WriteIndices(indices, dim, w);
    EXPECT_EQ(w.bytes()[0], static_cast<uint8_t>(expected));
    EXPECT_EQ(w.size(), 1 + std::min(compress_internal::DeltaVarintBytes(indices),
                                     compress_internal::BitmapBytes(dim)));
    compress_internal::FrameReader in(w.bytes(), "test");
    std::vector<uint32_t> back;
    ASSERT_TRUE(compress_internal::ReadIndices(in, dim, indices.size(), back).ok());
    EXPECT_EQ(back, indices);
  }
}

TEST(IndexCoding, RejectsOutOfRangeCountMismatchAndBadPadding) {
  using compress_internal::FrameReader;
  std::vector<uint32_t> back;
  // Varints 3, 0 -> indices 3, 4: out of range for dim 4.
  const std::vector<uint8_t> varints = {0, 3, 0};
  FrameReader a(varints, "test");
  EXPECT_EQ(compress_internal::ReadIndices(a, 4, 2, back).code(), StatusCode::kCorrupt);
  // Bitmap of dim 10 with 3 bits set, 2 declared.
  const std::vector<uint8_t> bitmap = {1, 0b00000111, 0};
  FrameReader b(bitmap, "test");
  EXPECT_EQ(compress_internal::ReadIndices(b, 10, 2, back).code(), StatusCode::kCorrupt);
  // Bit 12 set in a dim-10 bitmap (padding).
  const std::vector<uint8_t> padding = {1, 0b00000011, 0b00010000};
  FrameReader c(padding, "test");
  EXPECT_EQ(compress_internal::ReadIndices(c, 10, 3, back).code(), StatusCode::kCorrupt);
  // Unknown coding byte.
  const std::vector<uint8_t> unknown = {7, 0};
  FrameReader e(unknown, "test");
  EXPECT_EQ(compress_internal::ReadIndices(e, 10, 1, back).code(), StatusCode::kCorrupt);
}

TEST(TopKCodec, OnePercentOfAMillionTakesUnderSixBytesPerEntry) {
  const std::vector<float> x = Gaussian(1000000, 8);
  const auto fp32 = MustMake("topk:0.01");
  const size_t fp32_bytes = MustEncode(*fp32, x).size();
  // 10^4 values: 4 bytes each, plus gaps of ~100 (1-2 varint bytes).
  EXPECT_LT(fp32_bytes, 10000u * (4 + 2));
  EXPECT_GT(fp32_bytes, 10000u * 5);
  EXPECT_LE(fp32_bytes, fp32->MaxEncodedSize(x.size()));
  const auto int8 = MustMake("topk:0.01|int8");
  EXPECT_LT(MustEncode(*int8, x).size(), 10000u * (1 + 2) + 200);
}

TEST(RandKIndices, ReceiverRegeneratesBitExactIndices) {
  const CodecContext sender{.seed = 77, .sender = PeerId(5), .step = 12};
  const std::vector<uint32_t> a = RandKIndices(100000, 1000, sender);
  const std::vector<uint32_t> b = RandKIndices(100000, 1000, CodecContext(sender));
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 1000u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end());
  EXPECT_LT(a.back(), 100000u);
  // Another step, sender or seed: another set.
  EXPECT_NE(a, RandKIndices(100000, 1000, {.seed = 77, .sender = PeerId(5), .step = 13}));
  EXPECT_NE(a, RandKIndices(100000, 1000, {.seed = 77, .sender = PeerId(6), .step = 12}));
  EXPECT_NE(a, RandKIndices(100000, 1000, {.seed = 78, .sender = PeerId(5), .step = 12}));
}

TEST(RandKCodec, OnlyValuesTravelAndTheReceiverPutsThemBack) {
  const auto codec = MustMake("randk:0.01,scaling=none");
  const std::vector<float> x = Gaussian(100000, 9);
  const CodecContext ctx{.seed = 3, .sender = PeerId(1), .step = 2};
  const std::vector<uint8_t> frame = MustEncode(*codec, x, ctx);
  // header(1 + 3) + k varint(2) + scaling(1) + fp32 frame(1 + 2 + 4000).
  EXPECT_EQ(frame.size(), 4 + 2 + 1 + 3 + 4000u);
  const std::vector<float> y = MustDecode(*codec, frame, x.size(), ctx);
  const std::vector<uint32_t> kept = RandKIndices(x.size(), 1000, ctx);
  size_t nonzero = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool is_kept = std::binary_search(kept.begin(), kept.end(), static_cast<uint32_t>(i));
    ASSERT_EQ(y[i], is_kept ? x[i] : 0.0f) << i;
    nonzero += y[i] != 0;
  }
  EXPECT_EQ(nonzero, 1000u);
  // A receiver with the wrong step decodes a different (wrong) placement.
  const std::vector<float> wrong = MustDecode(*codec, frame, x.size(), {.seed = 3, .sender = PeerId(1), .step = 3});
  EXPECT_NE(wrong, y);
}

// Each coordinate is kept with probability k / d = 1/10 and then scaled by
// 10, so its decode has mean x_i and variance 9 x_i^2. Over n = 20000 steps
// the mean has standard deviation 3 |x_i| / sqrt(n); tolerance 5 of those.
// Also checks the inclusion frequency of every index is k / d.
TEST(RandKCodec, UnbiasedScalingAveragesToXOverSteps) {
  const auto codec = MustMake("randk:0.1");
  const std::vector<float> x = Gaussian(50, 10);
  const int n = 20000;
  std::vector<double> sum(x.size(), 0.0);
  std::vector<int> hits(x.size(), 0);
  for (int step = 0; step < n; ++step) {
    const CodecContext ctx{.seed = 1, .sender = PeerId(4), .step = uint64_t(step)};
    const std::vector<float> y = compress_test::RoundTrip(*codec, x, ctx);
    for (size_t i = 0; i < x.size(); ++i) {
      sum[i] += y[i];
      hits[i] += y[i] != 0;
    }
  }
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(sum[i] / n, x[i], 5 * 3 * std::abs(x[i]) / std::sqrt(double(n))) << i;
    // Binomial(n, 0.1): sd = sqrt(n * 0.09) = 42.4.
    EXPECT_NEAR(hits[i], n / 10, 5 * 42.4) << i;
  }
}

TEST(SparsityLevel, KeepCountsRoundAndClamp) {
  EXPECT_EQ(SparsityLevel::Fraction(0.01).KeepFor(1000000), 10000u);
  EXPECT_EQ(SparsityLevel::Fraction(0.01).KeepFor(10), 1u);
  EXPECT_EQ(SparsityLevel::Fraction(0.01).KeepFor(0), 0u);
  EXPECT_EQ(SparsityLevel::Fraction(1.0).KeepFor(7), 7u);
  EXPECT_EQ(SparsityLevel::Count(50).KeepFor(20), 20u);
  EXPECT_EQ(SparsityLevel::Fraction(0.01).ToString(), "0.01");
  EXPECT_EQ(SparsityLevel::Count(50).ToString(), "k=50");
}

TEST(TopKCodec, RejectsAKOtherThanTheReceiversOwn) {
  TopKCodec sender(SparsityLevel::Count(5), nullptr);
  TopKCodec receiver(SparsityLevel::Count(4), nullptr);
  const std::vector<float> x = Gaussian(100, 1);
  std::vector<float> y(100);
  EXPECT_EQ(receiver.Decode(MustEncode(sender, x), {}, y).code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur
