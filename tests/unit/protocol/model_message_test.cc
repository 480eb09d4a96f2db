#include "murmur/protocol/model_message.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace murmur {
namespace {

TEST(ModelMessage, RoundTrips) {
  const std::vector<float> params = {0.5f, -1.25f, 3.0f};
  std::vector<uint8_t> bytes =
      EncodeModelMessage(ModelMessageKind::kFedAvgUpdate, Round(7), 1234, params);
  EXPECT_EQ(bytes.size(), 1u + 4 + 8 + 4 + 3 * 4);
  Result<ModelMessage> m = DecodeModelMessage(bytes, ModelMessageKind::kFedAvgUpdate, 3);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->kind, ModelMessageKind::kFedAvgUpdate);
  EXPECT_EQ(m->round, Round(7));
  EXPECT_EQ(m->weight, 1234u);
  EXPECT_EQ(m->params, params);
}

// Found by model_message_fuzz under UBSan (an empty parameter array).
TEST(ModelMessage, RoundTripsAnEmptyModel) {
  const std::vector<uint8_t> bytes =
      EncodeModelMessage(ModelMessageKind::kFedAvgGlobal, Round(3), 0, {});
  EXPECT_EQ(bytes.size(), 1u + 4 + 8 + 4);
  Result<ModelMessage> m = DecodeModelMessage(bytes, ModelMessageKind::kFedAvgGlobal, 0);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->round, Round(3));
  EXPECT_TRUE(m->params.empty());
  EXPECT_EQ(DecodeModelMessage(bytes, ModelMessageKind::kFedAvgGlobal, 1).status().code(),
            StatusCode::kCorrupt);
}

TEST(ModelMessage, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes =
      EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, std::vector<float>(4, 1.f));
  for (size_t len = 0; len < bytes.size(); ++len) {
    Result<ModelMessage> m =
        DecodeModelMessage(std::span<const uint8_t>(bytes.data(), len),
                           ModelMessageKind::kDpsgdParams, 4);
    ASSERT_FALSE(m.ok()) << "length " << len;
    EXPECT_EQ(m.status().code(), StatusCode::kCorrupt);
  }
}

TEST(ModelMessage, RejectsWrongDimensionUnknownKindTrailingBytesAndNaN) {
  std::vector<uint8_t> ok =
      EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, std::vector<float>(4, 1.f));
  EXPECT_EQ(DecodeModelMessage(ok, ModelMessageKind::kDpsgdParams, 5).status().code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(DecodeModelMessage(ok, ModelMessageKind::kGossipModel, 4).status().code(),
            StatusCode::kCorrupt);

  std::vector<uint8_t> kind = ok;
  kind[0] = 99;
  EXPECT_EQ(DecodeModelMessage(kind, ModelMessageKind::kDpsgdParams, 4).status().code(),
            StatusCode::kCorrupt);

  std::vector<uint8_t> trailing = ok;
  trailing.push_back(0);
  EXPECT_EQ(DecodeModelMessage(trailing, ModelMessageKind::kDpsgdParams, 4).status().code(),
            StatusCode::kCorrupt);

  std::vector<float> bad = {1.f, std::numeric_limits<float>::quiet_NaN(), 0.f, 0.f};
  std::vector<uint8_t> nan = EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, bad);
  EXPECT_EQ(DecodeModelMessage(nan, ModelMessageKind::kDpsgdParams, 4).status().code(),
            StatusCode::kCorrupt);
}

// Garbage from a peer is an error value, never a crash, and nothing but a
// well-formed frame decodes: every input either fails with kCorrupt or
// decodes to a message that re-encodes to exactly the input bytes. Random
// strings of 0-63 bytes are all rejected (a valid frame here is 29 bytes
// with the right kind byte and count 3); single-byte mutations of a valid
// frame are rejected when they hit the kind, the count or make a float
// non-finite, and accepted (as the message they now spell) otherwise.
TEST(ModelMessage, RandomBytesAreRejectedAndMutatedFramesDecodeToExactlyTheirBytes) {
  uint32_t state = 12345;
  const auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<uint8_t>(state >> 24);
  };
  const auto check = [](const std::vector<uint8_t>& bytes) {
    Result<ModelMessage> m = DecodeModelMessage(bytes, ModelMessageKind::kDpsgdParams, 3);
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), StatusCode::kCorrupt);
      return false;
    }
    EXPECT_EQ(EncodeModelMessage(m->kind, m->round, m->weight, m->params), bytes);
    return true;
  };
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bytes(state % 64);
    for (auto& b : bytes) b = next();
    EXPECT_FALSE(check(bytes)) << "trial " << trial;
  }
  const std::vector<uint8_t> valid =
      EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(7), 42, std::vector<float>{1.5f, -2.f, 0.25f});
  ASSERT_EQ(valid.size(), 29u);
  int accepted = 0;
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bytes = valid;
    const size_t at = next() % bytes.size();
    uint8_t value = next();
    if (value == bytes[at]) value ^= 1;
    bytes[at] = value;
    const bool ok = check(bytes);
    ok ? ++accepted : ++rejected;
    // The kind byte and the count (bytes 13-16) admit no other value.
    if (at == 0 || (at >= 13 && at < 17)) EXPECT_FALSE(ok) << "byte " << at;
  }
  EXPECT_GT(accepted, 1000);  // rounds, weights and most float bytes
  EXPECT_GT(rejected, 200);   // kind, count, exponent bytes making inf/NaN
}

// The shared frame has EncodeModelMessage's bytes; decoded from it the
// parameters view the sender's buffer, and without an owner they are copied.
TEST(SharedModelMessage, ViewsTheSharedBufferWithTheSameBytes) {
  const std::vector<float> params = {0.5f, -1.25f, 3.0f, 7.0f, -0.0f};
  const SharedMessage shared =
      EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, Round(4), 9, params);
  const std::vector<uint8_t> plain =
      EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(4), 9, params);
  EXPECT_TRUE(std::equal(shared.bytes.begin(), shared.bytes.end(), plain.begin(), plain.end()));
  Result<ReceivedModelMessage> m =
      DecodeSharedModelMessage(shared, ModelMessageKind::kDpsgdParams, params.size());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->round, Round(4));
  EXPECT_EQ(m->weight, 9u);
  EXPECT_TRUE(m->params == params);
  EXPECT_EQ(static_cast<const void*>(m->params.data()),
            static_cast<const void*>(shared.bytes.data() + 17));
  Result<ReceivedModelMessage> copied = DecodeSharedModelMessage(
      SharedMessage{.owner = nullptr, .bytes = plain}, ModelMessageKind::kDpsgdParams,
      params.size());
  ASSERT_TRUE(copied.ok());
  EXPECT_TRUE(copied->params == params);
  EXPECT_NE(static_cast<const void*>(copied->params.data()),
            static_cast<const void*>(plain.data() + 17));
}

TEST(SharedModelMessage, RejectsWhatDecodeModelMessageRejects) {
  const std::vector<float> params = {1.0f, std::numeric_limits<float>::infinity()};
  const SharedMessage bad =
      EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, params);
  EXPECT_FALSE(DecodeSharedModelMessage(bad, ModelMessageKind::kDpsgdParams, 2).ok());
  const std::vector<float> two = {1.0f, 2.0f};
  const SharedMessage good =
      EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, two);
  EXPECT_FALSE(DecodeSharedModelMessage(good, ModelMessageKind::kDpsgdParams, 3).ok());
  EXPECT_FALSE(DecodeSharedModelMessage(good, ModelMessageKind::kGossipModel, 2).ok());
  SharedMessage truncated = good;
  truncated.bytes = good.bytes.first(good.bytes.size() - 1);
  EXPECT_FALSE(DecodeSharedModelMessage(truncated, ModelMessageKind::kDpsgdParams, 2).ok());
}

// The check of every float, now in vectorized blocks of 64: a bad value in
// any block or in the tail is found at its exact index, by both decoders.
TEST(SharedModelMessage, NamesTheIndexOfTheFirstNonFiniteValueInAnyBlock) {
  constexpr size_t kSize = 7850;  // 122 blocks of 64 and a tail of 42
  for (const size_t bad_at : {size_t{0}, size_t{63}, size_t{64}, size_t{4000}, size_t{7807},
                              size_t{7808}, kSize - 1}) {
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::infinity()}) {
      std::vector<float> params(kSize, 1.5f);
      params[bad_at] = bad;
      if (bad_at + 3 < kSize) params[bad_at + 3] = bad;  // only the first is named
      const std::string want = "non-finite value at index " + std::to_string(bad_at);
      const SharedMessage shared =
          EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, params);
      const Result<ReceivedModelMessage> viewed =
          DecodeSharedModelMessage(shared, ModelMessageKind::kDpsgdParams, kSize);
      ASSERT_FALSE(viewed.ok()) << bad_at;
      EXPECT_NE(viewed.status().ToString().find(want), std::string::npos)
          << viewed.status().ToString();
      const std::vector<uint8_t> plain =
          EncodeModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, params);
      const Result<ModelMessage> copied =
          DecodeModelMessage(plain, ModelMessageKind::kDpsgdParams, kSize);
      ASSERT_FALSE(copied.ok()) << bad_at;
      EXPECT_NE(copied.status().ToString().find(want), std::string::npos);
    }
  }
  // The largest finite values and denormals pass.
  std::vector<float> edge(kSize, std::numeric_limits<float>::max());
  edge[5] = -std::numeric_limits<float>::max();
  edge[70] = std::numeric_limits<float>::denorm_min();
  EXPECT_TRUE(DecodeSharedModelMessage(
                  EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, Round(1), 0, edge),
                  ModelMessageKind::kDpsgdParams, kSize)
                  .ok());
}

// The encoder's finding that a frame's floats are finite covers that frame's
// own bytes only: other bytes presented with its buffer as owner (a copy
// with a NaN written in) are checked.
TEST(SharedModelMessage, ChecksBytesThatAreNotTheOwnersFrame) {
  const std::vector<float> params(100, 2.0f);
  const SharedMessage good =
      EncodeSharedModelMessage(ModelMessageKind::kDpsgdParams, Round(2), 0, params);
  ASSERT_TRUE(DecodeSharedModelMessage(good, ModelMessageKind::kDpsgdParams, 100).ok());
  // A float-aligned copy of the frame (same leading padding) with a NaN.
  std::vector<float> storage(good.bytes.size() / sizeof(float) + 2);
  const size_t pad = reinterpret_cast<uintptr_t>(good.bytes.data()) % sizeof(float);
  auto* start = reinterpret_cast<uint8_t*>(storage.data()) + pad;
  std::memcpy(start, good.bytes.data(), good.bytes.size());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(start + 17 + 40 * sizeof(float), &nan, sizeof nan);
  const SharedMessage forged{.owner = good.owner, .bytes = {start, good.bytes.size()}};
  const Result<ReceivedModelMessage> m =
      DecodeSharedModelMessage(forged, ModelMessageKind::kDpsgdParams, 100);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().ToString().find("index 40"), std::string::npos) << m.status().ToString();
}

}  // namespace
}  // namespace murmur
