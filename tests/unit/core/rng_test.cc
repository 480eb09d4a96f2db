#include "murmur/core/rng.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>
#include <vector>

namespace murmur {
namespace {

// Known-answer vectors from Random123's kat_vectors for philox4x32_10.
TEST(Philox4x32, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(Philox4x32({0, 0, 0, 0}, {0, 0}),
            (std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(Philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                       {0xffffffff, 0xffffffff}),
            (std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(Philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                       {0xa4093822, 0x299f31d0}),
            (std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Rng, SameKeyReplaysSameStream) {
  Rng a(42, PeerId(3), RngPurpose::kBatch);
  Rng b(42, PeerId(3), RngPurpose::kBatch);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.NextU64(), b.NextU64());
}

TEST(Rng, AnyPeerCanRegenerateAnothersNumbersFromTheKey) {
  // Peer 7's stream for step 5 is a pure function of (seed, peer, purpose, step).
  Rng owner = Rng::ForStep(9, PeerId(7), RngPurpose::kProtocol, 5);
  std::vector<uint32_t> drawn;
  for (int i = 0; i < 10; ++i) drawn.push_back(owner.NextU32());
  Rng other = Rng::ForStep(9, PeerId(7), RngPurpose::kProtocol, 5);
  for (uint32_t v : drawn) EXPECT_EQ(other.NextU32(), v);
}

TEST(Rng, DifferentSeedPeerPurposeOrStepGiveDifferentStreams) {
  std::set<uint64_t> firsts;
  firsts.insert(Rng(1, PeerId(0), RngPurpose::kBatch).NextU64());
  firsts.insert(Rng(2, PeerId(0), RngPurpose::kBatch).NextU64());
  firsts.insert(Rng(1, PeerId(1), RngPurpose::kBatch).NextU64());
  firsts.insert(Rng(1, PeerId(0), RngPurpose::kInit).NextU64());
  firsts.insert(Rng::ForStep(1, PeerId(0), RngPurpose::kBatch, 1).NextU64());
  EXPECT_EQ(firsts.size(), 5u);
}

// A secret-keyed stream uses all 128 key bits: it is the Philox stream of
// (key words 0-1) with words 2-3 in the counter where peer and purpose sit,
// and changing any one word gives another stream.
TEST(Rng, SecretKeyUsesAll128Bits) {
  const std::array<uint32_t, 4> key = {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344};
  Rng secret = Rng::FromSecretKey(key);
  EXPECT_EQ(secret.NextU32(), Philox4x32({0, 0, key[2], key[3]}, {key[0], key[1]})[0]);
  std::set<uint64_t> firsts = {Rng::FromSecretKey(key).NextU64()};
  for (int w = 0; w < 4; ++w) {
    std::array<uint32_t, 4> other = key;
    other[w] ^= 1;
    firsts.insert(Rng::FromSecretKey(other).NextU64());
  }
  firsts.insert(Rng::FromSecretKey(key, 1).NextU64());
  EXPECT_EQ(firsts.size(), 6u);
  Rng a = Rng::FromSecretKey(key, 2), b = Rng::FromSecretKey(key, 2);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.NextU64(), b.NextU64());
}

TEST(Rng, UniformHasMeanOneHalfAndStaysInRange) {
  Rng rng(7, PeerId(0), RngPurpose::kTest);
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
}

TEST(Rng, UniformIntIsUnbiasedOverSmallRange) {
  Rng rng(7, PeerId(0), RngPurpose::kTest);
  std::vector<int> counts(6, 0);
  const int n = 60000;
  for (int i = 0; i < n; ++i) ++counts[rng.UniformInt(6)];
  for (int c : counts) EXPECT_NEAR(c, n / 6, 400);
}

TEST(Rng, NormalHasUnitVariance) {
  Rng rng(11, PeerId(0), RngPurpose::kTest);
  double sum = 0, sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double x = rng.Normal();
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
}

TEST(Rng, GammaHasMeanEqualToShape) {
  for (double shape : {0.1, 0.5, 1.0, 3.0}) {
    Rng rng(13, PeerId(0), RngPurpose::kTest);
    double sum = 0;
    const int n = 50000;
    for (int i = 0; i < n; ++i) {
      double g = rng.Gamma(shape);
      ASSERT_GE(g, 0.0);
      sum += g;
    }
    EXPECT_NEAR(sum / n, shape, 0.03 * std::max(shape, 1.0)) << "shape " << shape;
  }
}

TEST(Rng, ShuffleIsAPermutation) {
  Rng rng(3, PeerId(0), RngPurpose::kTest);
  std::vector<int> v(100);
  for (int i = 0; i < 100; ++i) v[i] = i;
  rng.Shuffle(std::span<int>(v));
  std::set<int> s(v.begin(), v.end());
  EXPECT_EQ(s.size(), 100u);
  bool moved = false;
  for (int i = 0; i < 100; ++i) moved = moved || v[i] != i;
  EXPECT_TRUE(moved);
}

TEST(Rng, DiscardSkipsExactlyTheGivenWords) {
  for (uint64_t skip : {0u, 1u, 3u, 4u, 5u, 17u, 1000u}) {
    for (int drawn_before : {0, 1, 2, 3, 4, 6}) {
      Rng seq(9, PeerId(2), RngPurpose::kSynthetic, 5);
      Rng jump = seq;
      for (int i = 0; i < drawn_before; ++i) {
        seq.NextU32();
        jump.NextU32();
      }
      EXPECT_EQ(jump.position(), 20u + static_cast<uint64_t>(drawn_before));
      for (uint64_t i = 0; i < skip; ++i) seq.NextU32();
      jump.Discard(skip);
      EXPECT_EQ(jump.position(), seq.position());
      for (int i = 0; i < 9; ++i) EXPECT_EQ(jump.NextU32(), seq.NextU32()) << skip;
    }
  }
}

// The bulk draws must leave both the values and the stream exactly as the
// one-at-a-time calls would: every length around the 8-block batch (32
// words), from every offset within a block, and across the counter's
// 32-bit carry (a stream started 3 blocks before 2^32).
TEST(Rng, BulkDrawsEqualOneAtATimeCalls) {
  for (uint64_t start : {uint64_t{0}, (uint64_t{1} << 32) - 3}) {
    for (int drawn_before : {0, 1, 2, 3}) {
      for (size_t n : {0u, 1u, 3u, 4u, 31u, 32u, 33u, 64u, 100u, 257u, 1000u}) {
        Rng one(11, PeerId(4), RngPurpose::kInit, start);
        for (int i = 0; i < drawn_before; ++i) one.NextU32();
        Rng words = one, uniforms = one, normals = one;

        std::vector<uint32_t> w(n);
        words.NextU32s(w);
        std::vector<double> u(n), z(n);
        uniforms.Uniforms(u);
        normals.Normals(z);
        Rng a = one, b = one, c = one;
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(w[i], a.NextU32()) << "start " << start << " n " << n << " i " << i;
          ASSERT_EQ(u[i], b.Uniform()) << "start " << start << " n " << n << " i " << i;
          ASSERT_EQ(z[i], c.Normal()) << "start " << start << " n " << n << " i " << i;
        }
        EXPECT_EQ(words.position(), a.position());
        EXPECT_EQ(uniforms.position(), b.position());
        EXPECT_EQ(normals.position(), c.position());
        EXPECT_EQ(words.NextU32(), a.NextU32());
        EXPECT_EQ(uniforms.NextU32(), b.NextU32());
        EXPECT_EQ(normals.NextU32(), c.NextU32());
      }
    }
  }
}

}  // namespace
}  // namespace murmur
