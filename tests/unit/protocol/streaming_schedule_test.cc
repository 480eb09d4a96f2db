// Streaming DiLoCo's fragment schedule (protocol/streaming_diloco.h) on
// hand-computed cases.
#include <gtest/gtest.h>

#include "murmur/protocol/streaming_diloco.h"

namespace murmur {
namespace {

// H = 4, P = 2, tau = 1, T = 12: fragment 0 (offset 0) after steps 4, 8,
// 12; fragment 1 (offset 2) after 2, 6, 10; each applied one step later,
// the last at T.
TEST(StreamingSchedule, TwoFragmentsHandComputed) {
  const std::vector<FragmentSync> want = {{2, 3, 1}, {4, 5, 0},   {6, 7, 1},
                                          {8, 9, 0}, {10, 11, 1}, {12, 12, 0}};
  EXPECT_EQ(FragmentSyncs(4, 2, 1, 12), want);
}

// H = 5, P = 3 (offsets floor(p 5 / 3) = 0, 1, 3), tau = 0, T = 10.
TEST(StreamingSchedule, ThreeFragmentsUnevenOffsetsNoOverlap) {
  const std::vector<FragmentSync> want = {{1, 1, 1}, {3, 3, 2}, {5, 5, 0},
                                          {6, 6, 1}, {8, 8, 2}, {10, 10, 0}};
  EXPECT_EQ(FragmentSyncs(5, 3, 0, 10), want);
  EXPECT_EQ(FragmentRange(10, 3, 0), (std::pair<size_t, size_t>{0, 3}));
  EXPECT_EQ(FragmentRange(10, 3, 1), (std::pair<size_t, size_t>{3, 6}));
  EXPECT_EQ(FragmentRange(10, 3, 2), (std::pair<size_t, size_t>{6, 10}));
}

// One fragment is DiLoCo's schedule: every H steps; each fragment of P is
// exchanged T / H times, and at most one exchange is in flight at a time
// when tau <= H / P.
TEST(StreamingSchedule, EveryFragmentEveryHStepsAndNoTwoInFlight) {
  EXPECT_EQ(FragmentSyncs(3, 1, 0, 9), (std::vector<FragmentSync>{{3, 3, 0}, {6, 6, 0}, {9, 9, 0}}));
  const std::vector<FragmentSync> s = FragmentSyncs(20, 4, 5, 200);
  ASSERT_EQ(s.size(), 40u);
  std::vector<int> count(4, 0);
  for (size_t i = 0; i < s.size(); ++i) {
    ++count[s[i].fragment];
    if (i + 1 < s.size()) EXPECT_LE(s[i].apply, s[i + 1].start) << i;
  }
  EXPECT_EQ(count, (std::vector<int>{10, 10, 10, 10}));
}

}  // namespace
}  // namespace murmur
