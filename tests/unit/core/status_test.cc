#include "murmur/core/status.h"

#include <gtest/gtest.h>

namespace murmur {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd value ", x);
  return x / 2;
}

Result<int> Quarter(int x) {
  MURMUR_ASSIGN_OR_RETURN(int h, Half(x));
  MURMUR_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::Corrupt("frame of ", 12, " bytes");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_EQ(s.message(), "frame of 12 bytes");
  EXPECT_EQ(s.ToString(), "CORRUPT: frame of 12 bytes");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(Result, PropagatesTheFirstError) {
  EXPECT_EQ(Quarter(12).value(), 3);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd value 3");
}

}  // namespace
}  // namespace murmur
