// The DP FedAvg frames of adaptive clipping in local mode
// (dp_fedavg_message.h): exact bytes, round trips, and every bound.
#include "murmur/protocol/dp_fedavg_message.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace murmur {
namespace {

TEST(DpFedAvgMessage, RoundTripsWithTheStatedLayout) {
  const std::vector<float> params = {1.5f, -2.0f, 0.25f};
  const auto bytes = EncodeDpFedAvgMessage(DpFedAvgKind::kGlobal, Round(7), 0.75, params);
  ASSERT_EQ(bytes.size(), 1u + 4 + 8 + 4 + 12);
  EXPECT_EQ(bytes[0], 0x05);
  double value = 0;
  std::memcpy(&value, bytes.data() + 5, 8);
  EXPECT_EQ(value, 0.75);
  Result<DpFedAvgMessage> m = DecodeDpFedAvgMessage(bytes, DpFedAvgKind::kGlobal, 3);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->round, Round(7));
  EXPECT_EQ(m->value, 0.75);
  EXPECT_EQ(m->params, params);
  const auto update = EncodeDpFedAvgMessage(DpFedAvgKind::kUpdate, Round(2), -0.5, params);
  EXPECT_EQ(update[0], 0x06);
  EXPECT_EQ(DecodeDpFedAvgMessage(update, DpFedAvgKind::kUpdate, 3).value().value, -0.5);
  // The kinds do not cross.
  EXPECT_EQ(DecodeDpFedAvgMessage(update, DpFedAvgKind::kGlobal, 3).status().code(),
            StatusCode::kCorrupt);
}

TEST(DpFedAvgMessage, RejectsOutOfRangeValuesCountsAndTruncation) {
  const std::vector<float> params = {1.f, 2.f};
  const double inf = std::numeric_limits<double>::infinity();
  for (double clip : {0.0, -1.0, 2 * kMaxDpClip, inf, std::nan("")}) {
    EXPECT_EQ(DecodeDpFedAvgMessage(EncodeDpFedAvgMessage(DpFedAvgKind::kGlobal, Round(1), clip,
                                                          params),
                                    DpFedAvgKind::kGlobal, 2)
                  .status()
                  .code(),
              StatusCode::kCorrupt)
        << clip;
  }
  for (double bit : {2 * kMaxDpClipBit, -2 * kMaxDpClipBit, inf, std::nan("")}) {
    EXPECT_EQ(DecodeDpFedAvgMessage(EncodeDpFedAvgMessage(DpFedAvgKind::kUpdate, Round(1), bit,
                                                          params),
                                    DpFedAvgKind::kUpdate, 2)
                  .status()
                  .code(),
              StatusCode::kCorrupt)
        << bit;
  }
  EXPECT_TRUE(DecodeDpFedAvgMessage(
                  EncodeDpFedAvgMessage(DpFedAvgKind::kUpdate, Round(1), -kMaxDpClipBit, params),
                  DpFedAvgKind::kUpdate, 2)
                  .ok());
  const auto bytes = EncodeDpFedAvgMessage(DpFedAvgKind::kUpdate, Round(1), 0.5, params);
  EXPECT_EQ(DecodeDpFedAvgMessage(bytes, DpFedAvgKind::kUpdate, 3).status().code(),
            StatusCode::kCorrupt);
  const std::vector<float> nan = {1.f, NAN};
  EXPECT_FALSE(DecodeDpFedAvgMessage(EncodeDpFedAvgMessage(DpFedAvgKind::kUpdate, Round(1), 0.5,
                                                           nan),
                                     DpFedAvgKind::kUpdate, 2)
                   .ok());
  auto trailing = bytes;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeDpFedAvgMessage(trailing, DpFedAvgKind::kUpdate, 2).ok());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeDpFedAvgMessage(std::span(bytes).first(cut), DpFedAvgKind::kUpdate, 2).ok())
        << cut;
  }
}

}  // namespace
}  // namespace murmur
