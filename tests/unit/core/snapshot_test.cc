#include "murmur/core/snapshot.h"

#include <gtest/gtest.h>

#include <vector>

namespace murmur {
namespace {

TEST(SnapshotReader, ReadsBackWhatTheWriterWrote) {
  SnapshotWriter out;
  out.U8(7);
  out.Bool(true);
  out.U32(0xdeadbeef);
  out.I64(-5);
  out.F64(0.25);
  out.Floats(std::vector<float>{1.5f, -2.0f});
  out.String("dpsgd");
  out.Section(0x41424344);
  // 1 + 1 + 4 + 8 + 8 + (8 + 8) + (8 + 5) + 4 bytes.
  ASSERT_EQ(out.bytes().size(), 55u);
  SnapshotReader in(out.bytes());
  EXPECT_EQ(in.U8("a"), 7);
  EXPECT_TRUE(in.Bool("b"));
  EXPECT_EQ(in.U32("c"), 0xdeadbeefu);
  EXPECT_EQ(in.I64("d"), -5);
  EXPECT_EQ(in.F64("e"), 0.25);
  EXPECT_EQ(in.Floats("f"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(in.String("g"), "dpsgd");
  in.Section(0x41424344, "h");
  EXPECT_TRUE(in.ok());
  EXPECT_EQ(in.remaining(), 0u);
}

TEST(SnapshotReader, TruncationIsAStickyErrorNamingTheField) {
  SnapshotWriter out;
  out.U32(1);
  SnapshotReader in(out.bytes());
  EXPECT_EQ(in.U64("round"), 0u);
  EXPECT_EQ(in.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(in.status().message().find("round"), std::string::npos);
  EXPECT_EQ(in.U32("later"), 0u);  // nothing read after an error
  EXPECT_NE(in.status().message().find("round"), std::string::npos);
}

TEST(SnapshotReader, RefusesACountTheBytesLeftCannotHold) {
  SnapshotWriter out;
  out.U64(uint64_t{1} << 60);  // a float array of 2^60 elements
  out.U32(0);
  SnapshotReader in(out.bytes());
  EXPECT_TRUE(in.Floats("params").empty());
  EXPECT_EQ(in.status().code(), StatusCode::kCorrupt);
}

TEST(SnapshotReader, RefusesAWrongSectionAndANonBool) {
  SnapshotWriter out;
  out.Section(1);
  SnapshotReader in(out.bytes());
  in.Section(2, "learner");
  EXPECT_FALSE(in.ok());
  SnapshotWriter b;
  b.U8(2);
  SnapshotReader in2(b.bytes());
  in2.Bool("flag");
  EXPECT_FALSE(in2.ok());
}

TEST(SnapshotReader, RestoresARandomStreamToItsSavedPosition) {
  Rng rng(9, PeerId(3), RngPurpose::kTest);
  for (int i = 0; i < 5; ++i) rng.NextU32();
  rng.Normal();
  SnapshotWriter out;
  out.Random(rng);
  const uint64_t next = rng.NextU64();
  Rng fresh(9, PeerId(3), RngPurpose::kTest);
  SnapshotReader in(out.bytes());
  in.Random("rng", fresh);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(fresh.NextU64(), next);
  // A position before the stream's start cannot come from a Save.
  Rng later(9, PeerId(3), RngPurpose::kTest, 100);
  SnapshotReader in2(out.bytes());
  in2.Random("rng", later);
  EXPECT_EQ(in2.status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur
