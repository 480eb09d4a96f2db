// The checked conversions from plain counters to strong ids.
#include "murmur/core/ids.h"

#include <gtest/gtest.h>

namespace murmur {
namespace {

TEST(RoundOf, KeepsEveryValueAUint32Holds) {
  EXPECT_EQ(RoundOf(0), Round(0));
  EXPECT_EQ(RoundOf(7), Round(7));
  EXPECT_EQ(RoundOf(int64_t{UINT32_MAX}), Round(UINT32_MAX));
  EXPECT_EQ(NextRound(RoundOf(41)), Round(42));
  EXPECT_EQ(PeerOf(0), PeerId(0));
  EXPECT_EQ(PeerOf(int64_t{UINT32_MAX}), PeerId(UINT32_MAX));
}

TEST(RoundOfDeathTest, AbortsInsteadOfWrapping) {
  EXPECT_DEATH(RoundOf(int64_t{UINT32_MAX} + 1), "MURMUR_CHECK failed");
  EXPECT_DEATH(RoundOf(-1), "MURMUR_CHECK failed");
  EXPECT_DEATH(PeerOf(int64_t{1} << 32), "MURMUR_CHECK failed");
  EXPECT_DEATH(PeerOf(-1), "MURMUR_CHECK failed");
}

}  // namespace
}  // namespace murmur
