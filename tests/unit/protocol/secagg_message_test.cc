#include "murmur/protocol/secagg_message.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "murmur/protocol/message_kind.h"

namespace murmur {
namespace {

TEST(SecAggMessage, SetupRoundTripsAndRejectsBadIndexCountAndValues) {
  const std::vector<float> global = {1.5f, -2.0f, 0.25f};
  const auto bytes = EncodeSecAggSetup(Round(7), 5, 4, 0x0102030405060708ULL, global);
  EXPECT_EQ(bytes.size(), 1u + 4 + 4 + 4 + 8 + 4 + 12);
  EXPECT_EQ(bytes[0], 0x60);
  Result<SecAggSetup> setup = DecodeSecAggSetup(bytes, 3);
  ASSERT_TRUE(setup.ok()) << setup.status().ToString();
  EXPECT_EQ(setup->round, Round(7));
  EXPECT_EQ(setup->clients, 5u);
  EXPECT_EQ(setup->index, 4u);
  EXPECT_EQ(setup->graph_seed, 0x0102030405060708ULL);
  EXPECT_EQ(setup->global, global);
  EXPECT_EQ(DecodeSecAggSetup(bytes, 4).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(DecodeSecAggSetup(EncodeSecAggSetup(Round(1), 5, 5, 0, global), 3).status().code(),
            StatusCode::kCorrupt);  // index >= clients
  EXPECT_EQ(DecodeSecAggSetup(EncodeSecAggSetup(Round(1), 1, 0, 0, global), 3).status().code(),
            StatusCode::kCorrupt);  // one client cannot aggregate securely
  const std::vector<float> nan = {1, NAN, 0};
  EXPECT_EQ(DecodeSecAggSetup(EncodeSecAggSetup(Round(1), 2, 0, 0, nan), 3).status().code(),
            StatusCode::kCorrupt);
  auto trailing = bytes;
  trailing.push_back(0);
  EXPECT_EQ(DecodeSecAggSetup(trailing, 3).status().code(), StatusCode::kCorrupt);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeSecAggSetup(std::span(bytes).first(cut), 3).ok()) << cut;
  }
}

// Adaptive clipping adds the round's clip (f64) after the graph seed; the
// decoder expecting it refuses 0, negative, NaN and > 1e12 clips.
TEST(SecAggMessage, SetupWithClipRoundTripsAndBoundsTheClip) {
  const std::vector<float> global = {1.5f, -2.0f, 0.25f};
  const auto bytes = EncodeSecAggSetup(Round(7), 5, 4, 9, global, 0.375);
  EXPECT_EQ(bytes.size(), 1u + 4 + 4 + 4 + 8 + 8 + 4 + 12);
  Result<SecAggSetup> setup = DecodeSecAggSetup(bytes, 3, /*with_clip=*/true);
  ASSERT_TRUE(setup.ok()) << setup.status().ToString();
  EXPECT_EQ(setup->clip, 0.375);
  EXPECT_EQ(setup->global, global);
  EXPECT_FALSE(DecodeSecAggSetup(bytes, 3, false).ok());
  EXPECT_FALSE(DecodeSecAggSetup(EncodeSecAggSetup(Round(7), 5, 4, 9, global), 3, true).ok());
  for (double bad : {-1.0, 2e12, static_cast<double>(NAN)}) {
    auto b = EncodeSecAggSetup(Round(7), 5, 4, 9, global, 1.0);
    std::memcpy(b.data() + 1 + 4 + 4 + 4 + 8, &bad, 8);
    EXPECT_EQ(DecodeSecAggSetup(b, 3, true).status().code(), StatusCode::kCorrupt) << bad;
  }
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeSecAggSetup(std::span(bytes).first(cut), 3, true).ok()) << cut;
  }
}

TEST(SecAggMessage, PhaseRoundTripsAndBoundsThePhasePerDirection) {
  const std::vector<uint8_t> payload = {9, 8, 7};
  const auto up = EncodeSecAggPhase(SecAggDirection::kToServer, Round(3), 3, payload);
  EXPECT_EQ(up, (std::vector<uint8_t>{0x62, 3, 0, 0, 0, 3, 9, 8, 7}));
  Result<SecAggPhaseMessage> m = DecodeSecAggPhase(up, SecAggDirection::kToServer);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->round, Round(3));
  EXPECT_EQ(m->phase, 3);
  EXPECT_EQ(m->bytes, payload);
  // The client-bound kind is another byte, and has only phases 0..2.
  EXPECT_EQ(DecodeSecAggPhase(up, SecAggDirection::kToClient).status().code(),
            StatusCode::kCorrupt);
  const auto down = EncodeSecAggPhase(SecAggDirection::kToClient, Round(3), 3, payload);
  EXPECT_EQ(DecodeSecAggPhase(down, SecAggDirection::kToClient).status().code(),
            StatusCode::kCorrupt);
  EXPECT_EQ(DecodeSecAggPhase(EncodeSecAggPhase(SecAggDirection::kToServer, Round(3), 4, {}),
                              SecAggDirection::kToServer).status().code(),
            StatusCode::kCorrupt);
  EXPECT_FALSE(DecodeSecAggPhase(std::span(up).first(5), SecAggDirection::kToServer).ok());
}

}  // namespace
}  // namespace murmur
