#include "murmur/compress/fedzip.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "compress/huffman.h"
#include "compress_test_util.h"

namespace murmur {
namespace {

using compress_internal::HuffmanCodeLengths;
using compress_internal::HuffmanDecoder;
using compress_test::Gaussian;
using compress_test::MustEncode;
using compress_test::RoundTrip;

TEST(Huffman, OptimalLengthsForAKnownDistribution) {
  // Frequencies 1, 1, 2, 4: lengths 3, 3, 2, 1.
  const std::vector<uint64_t> freqs = {1, 1, 2, 4};
  EXPECT_EQ(HuffmanCodeLengths(freqs, 15), (std::vector<uint8_t>{3, 3, 2, 1}));
  // Unused symbols get 0; a single used symbol gets 1.
  EXPECT_EQ(HuffmanCodeLengths(std::vector<uint64_t>{0, 9, 0}, 15),
            (std::vector<uint8_t>{0, 1, 0}));
}

TEST(Huffman, LengthLimitHoldsForFibonacciFrequencies) {
  std::vector<uint64_t> fib = {1, 1};
  while (fib.size() < 30) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
  const std::vector<uint8_t> lengths = HuffmanCodeLengths(fib, 15);
  EXPECT_LE(*std::max_element(lengths.begin(), lengths.end()), 15);
  EXPECT_TRUE(HuffmanDecoder::Create(lengths).ok());  // still a complete code
}

TEST(Huffman, RoundTripsRandomSymbolStreams) {
  Rng rng(5, PeerId(0), RngPurpose::kTest);
  for (int trial = 0; trial < 50; ++trial) {
    SCOPED_TRACE("trial=" + std::to_string(trial));
    const size_t alphabet = 1 + rng.UniformInt(16);
    std::vector<uint8_t> symbols(rng.UniformInt(2000));
    std::vector<uint64_t> freqs(alphabet, 0);
    for (uint8_t& s : symbols) {
      // Skewed: small symbols much more frequent.
      s = static_cast<uint8_t>(std::min<uint64_t>(rng.UniformInt(alphabet), rng.UniformInt(alphabet)));
      freqs[s]++;
    }
    if (symbols.empty()) continue;
    const std::vector<uint8_t> lengths = HuffmanCodeLengths(freqs, 15);
    ByteWriter w;
    compress_internal::WriteHuffmanBits(lengths, symbols, w);
    EXPECT_EQ(w.size(), (compress_internal::HuffmanEncodedBits(lengths, symbols) + 7) / 8);
    auto decoder = HuffmanDecoder::Create(lengths);
    ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
    std::vector<uint8_t> back(symbols.size());
    ASSERT_TRUE(decoder->Decode(w.bytes(), back).ok());
    EXPECT_EQ(back, symbols);
    // Fewer symbols than were written leave whole bytes or non-zero bits.
    if (symbols.size() >= 16) {
      std::vector<uint8_t> fewer(symbols.size() - 16);
      EXPECT_FALSE(decoder->Decode(w.bytes(), fewer).ok());
    }
  }
}

TEST(Huffman, RejectsCorruptTables) {
  // Over-subscribed: three codes of length 1.
  EXPECT_EQ(HuffmanDecoder::Create(std::vector<uint8_t>{1, 1, 1}).status().code(),
            StatusCode::kCorrupt);
  // Incomplete: lengths 1, 2 (Kraft sum 3/4).
  EXPECT_EQ(HuffmanDecoder::Create(std::vector<uint8_t>{1, 2}).status().code(),
            StatusCode::kCorrupt);
  // No symbols at all.
  EXPECT_EQ(HuffmanDecoder::Create(std::vector<uint8_t>{0, 0}).status().code(),
            StatusCode::kCorrupt);
  // Too long.
  EXPECT_EQ(HuffmanDecoder::Create(std::vector<uint8_t>{1, 16}).status().code(),
            StatusCode::kCorrupt);
  // A single symbol of length 1 is fine, but the unused code "1" is not.
  auto single = HuffmanDecoder::Create(std::vector<uint8_t>{0, 1});
  ASSERT_TRUE(single.ok());
  std::vector<uint8_t> out(2);
  EXPECT_TRUE(single->Decode(std::vector<uint8_t>{0x00}, out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{1, 1}));
  EXPECT_FALSE(single->Decode(std::vector<uint8_t>{0x80}, out).ok());
}

TEST(Huffman, RejectsTrailingBytesAndPadding) {
  auto decoder = HuffmanDecoder::Create(std::vector<uint8_t>{1, 1});  // "0" -> 0, "1" -> 1
  ASSERT_TRUE(decoder.ok());
  std::vector<uint8_t> out(3);
  EXPECT_TRUE(decoder->Decode(std::vector<uint8_t>{0b01000000}, out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_FALSE(decoder->Decode(std::vector<uint8_t>{0b01000001}, out).ok());
  EXPECT_FALSE(decoder->Decode(std::vector<uint8_t>{0b01000000, 0}, out).ok());
}

TEST(KMeans1D, FindsWellSeparatedClustersExactly) {
  std::vector<float> values;
  for (int i = 0; i < 100; ++i) values.push_back(i % 3 == 0 ? -1.0f : (i % 3 == 1 ? 2.0f : 5.0f));
  std::vector<float> centroids;
  std::vector<uint8_t> ids;
  KMeans1D(values, 8, centroids, ids);
  EXPECT_EQ(centroids, (std::vector<float>{-1.0f, 2.0f, 5.0f}));
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(centroids[ids[i]], values[i]);
}

TEST(FedZipCodec, KeepsTopZAndMapsEachToItsNearestCentroid) {
  FedZipCodec codec(SparsityLevel::Fraction(0.05), 8);
  const std::vector<float> x = Gaussian(20000, 4);
  const std::vector<float> y = RoundTrip(codec, x);
  const std::vector<uint32_t> kept = TopKIndices(x, 1000);
  std::set<float> distinct;
  double err2 = 0, norm2 = 0;
  for (uint32_t i : kept) {
    distinct.insert(y[i]);
    err2 += double(y[i] - x[i]) * (y[i] - x[i]);
    norm2 += double(x[i]) * x[i];
  }
  size_t nonzero = 0;
  for (float v : y) nonzero += v != 0;
  EXPECT_EQ(nonzero, 1000u);
  EXPECT_LE(distinct.size(), 8u);
  EXPECT_GE(distinct.size(), 4u);
  // 8 centroids over the kept values: small relative error.
  EXPECT_LT(err2 / norm2, 0.01);
  // ~1000 * (1-2 index bytes + ~2-3 bits) plus a small table: far below fp32.
  const size_t bytes = MustEncode(codec, x).size();
  EXPECT_LT(bytes, 1000u * 2 + 1000u * 4 / 8 + 100);
  EXPECT_LE(bytes, codec.MaxEncodedSize(x.size()));
}

TEST(FedZipCodec, RejectsMoreCentroidsThanItsOwnLimit) {
  FedZipCodec sender(SparsityLevel::Fraction(0.5), 16);
  FedZipCodec receiver(SparsityLevel::Fraction(0.5), 4);
  const std::vector<float> x = Gaussian(1000, 5);
  std::vector<float> y(x.size());
  EXPECT_EQ(receiver.Decode(MustEncode(sender, x), {}, y).code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur
