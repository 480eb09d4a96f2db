#include "murmur/core/npy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace murmur {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A .npy file as NumPy would write it: magic, version, little-endian header
// length (2 bytes for 1.0, 4 for 2.0 and 3.0), header text, data bytes.
std::vector<uint8_t> NpyBytes(int major, const std::string& header,
                              const std::vector<float>& data) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const size_t n = header.size();
  out.push_back(n & 0xff);
  out.push_back((n >> 8) & 0xff);
  if (major >= 2) {
    out.push_back((n >> 16) & 0xff);
    out.push_back((n >> 24) & 0xff);
  }
  out.insert(out.end(), header.begin(), header.end());
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  out.insert(out.end(), p, p + data.size() * sizeof(float));
  return out;
}

const char* kHeader3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }      \n";

TEST(ParseNpy, ReadsVersionOneFloat32Vector) {
  Result<NpyArray> a = ParseNpy(NpyBytes(1, kHeader3, {1.5f, -2.0f, 3.25f}));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_THAT(a->shape, ElementsAre(3));
  EXPECT_THAT(a->data, ElementsAre(1.5f, -2.0f, 3.25f));
}

TEST(ParseNpy, ReadsVersionsTwoAndThree) {
  for (int major : {2, 3}) {
    Result<NpyArray> a = ParseNpy(NpyBytes(major, kHeader3, {1, 2, 3}));
    ASSERT_TRUE(a.ok()) << major << ": " << a.status().ToString();
    EXPECT_THAT(a->data, ElementsAre(1, 2, 3));
  }
}

TEST(ParseNpy, FlattensMultiDimensionalArraysInCOrder) {
  Result<NpyArray> a = ParseNpy(NpyBytes(
      1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}\n", {1, 2, 3, 4, 5, 6}));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_THAT(a->shape, ElementsAre(2, 3));
  EXPECT_THAT(a->data, ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST(ParseNpy, AcceptsScalarsEmptyArraysAndOldLiteralStyles) {
  Result<NpyArray> scalar =
      ParseNpy(NpyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", {7}));
  ASSERT_TRUE(scalar.ok()) << scalar.status().ToString();
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_THAT(scalar->data, ElementsAre(7));
  Result<NpyArray> empty =
      ParseNpy(NpyBytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5)}", {}));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->data.empty());
  // Python 2 NumPy wrote long integers with an L suffix; double quotes are
  // equally valid Python.
  Result<NpyArray> old = ParseNpy(
      NpyBytes(1, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2L,)}", {1, 2}));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_THAT(old->data, ElementsAre(1, 2));
}

TEST(EncodeNpy, WritesAVersionOneHeaderAlignedTo64Bytes) {
  const std::vector<float> values = {0.5f, -1.0f};
  std::vector<uint8_t> bytes = EncodeNpy(values);
  ASSERT_EQ(bytes.size(), 128u + 8u);  // as numpy.save writes it
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes[7], 0);
  EXPECT_EQ(bytes[8] | (bytes[9] << 8), 128 - 10);
  const std::string header(bytes.begin() + 10, bytes.begin() + 128);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 0), 0u);
  EXPECT_EQ(header.back(), '\n');
  Result<NpyArray> back = ParseNpy(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_THAT(back->shape, ElementsAre(2));
  EXPECT_EQ(back->data, values);
}

TEST(EncodeNpy, RoundTripsALongVectorBitForBit) {
  std::vector<float> values(1000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.1f - 7.0f;
  Result<NpyArray> back = ParseNpy(EncodeNpy(values));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::memcmp(back->data.data(), values.data(), values.size() * 4), 0);
}

Status ParseError(const std::vector<uint8_t>& bytes) { return ParseNpy(bytes).status(); }

TEST(ParseNpy, RejectsOtherDtypesWithAConversionHint) {
  for (const char* descr : {"<f8", ">f4", "<i4", "|u1"}) {
    Status s = ParseError(NpyBytes(
        1, std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (3,)}",
        {1, 2, 3}));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << descr;
    EXPECT_THAT(s.message(), HasSubstr(descr));
    EXPECT_THAT(s.message(), HasSubstr("astype('<f4')"));
  }
}

TEST(ParseNpy, RejectsFortranOrder) {
  Status s = ParseError(
      NpyBytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3,)}", {1, 2, 3}));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("fortran_order"));
}

TEST(ParseNpy, RejectsTruncatedAndOversizedData) {
  std::vector<uint8_t> bytes = NpyBytes(1, kHeader3, {1, 2, 3});
  std::vector<uint8_t> short_data(bytes.begin(), bytes.end() - 1);
  Status s = ParseError(short_data);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("truncated"));
  bytes.push_back(0);
  s = ParseError(bytes);
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("1 trailing bytes"));
}

TEST(ParseNpy, RejectsAShapeWhoseProductWouldOverflow) {
  Status s = ParseError(NpyBytes(
      1,
      "{'descr': '<f4', 'fortran_order': False, 'shape': (72057594037927936, "
      "72057594037927936, 4)}",
      {1, 2, 3}));
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.message(), HasSubstr("truncated"));
}

TEST(ParseNpy, RejectsTruncatedOrOversizedHeaders) {
  std::vector<uint8_t> bytes = NpyBytes(1, kHeader3, {1, 2, 3});
  EXPECT_EQ(ParseError(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 9)).code(),
            StatusCode::kCorrupt);
  EXPECT_THAT(ParseError(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 30)).message(),
              HasSubstr("header of 64 bytes truncated"));
  // Version 2 length field of 2^31 bytes.
  std::vector<uint8_t> huge = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0, 0, 0, 0x80};
  EXPECT_THAT(ParseError(huge).message(), HasSubstr("exceeds"));
}

TEST(ParseNpy, RejectsBadMagicAndVersions) {
  std::vector<uint8_t> bytes = NpyBytes(1, kHeader3, {1, 2, 3});
  bytes[1] = 'X';
  EXPECT_THAT(ParseError(bytes).message(), HasSubstr("magic"));
  for (auto [major, minor] : {std::pair{0, 0}, std::pair{4, 0}, std::pair{1, 1}}) {
    std::vector<uint8_t> v = NpyBytes(1, kHeader3, {1, 2, 3});
    v[6] = static_cast<uint8_t>(major);
    v[7] = static_cast<uint8_t>(minor);
    EXPECT_THAT(ParseError(v).message(), HasSubstr("unsupported format version"));
  }
}

TEST(ParseNpy, RejectsGarbledHeaderDicts) {
  const char* bad[] = {
      "",                                                             // empty
      "{'descr': '<f4', 'fortran_order': False}",                     // no shape
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",  // unknown key
      "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
      "{'descr': '<f4', 'fortran_order': false, 'shape': (3,)}",      // not Python
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}",       // int, not tuple
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,,)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': [3]}",
      "{'descr': '<f4' 'fortran_order': False, 'shape': (3,)}",       // missing comma
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} x",    // trailing text
      "{'descr: '<f4', 'fortran_order': False, 'shape': (3,)}",       // quotes
      "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (3,)}",
      "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (3,)}",  // escape
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)",       // unclosed
  };
  for (const char* header : bad) {
    Status s = ParseError(NpyBytes(1, header, {1, 2, 3}));
    EXPECT_EQ(s.code(), StatusCode::kCorrupt) << header << " -> " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr("npy")) << header;
  }
}

TEST(NpyFile, WritesAndReadsBackAndNamesMissingFiles) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("murmur_npy_test_" + std::to_string(::getpid()) + ".npy"))
                               .string();
  const std::vector<float> values = {3, 1, 4, 1, 5};
  ASSERT_TRUE(WriteNpyFile(path, values).ok());
  Result<NpyArray> back = ReadNpyFile(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->data, values);
  std::filesystem::remove(path);
  Result<NpyArray> missing = ReadNpyFile(path);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(path));
}


// The typed view behind .npz datasets: any numeric dtype, no copy, the same
// bounds as ParseNpy.
TEST(ParseNpyView, ReadsIntegerAndByteArraysAsViewsOfTheirData) {
  std::vector<uint8_t> bytes = NpyBytes(
      1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1), }\n", {});
  const int64_t values[2] = {-7, 1LL << 40};
  const auto* p = reinterpret_cast<const uint8_t*>(values);
  bytes.insert(bytes.end(), p, p + sizeof values);
  Result<NpyView> v = ParseNpyView(bytes);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->dtype, NpyDtype::kInt64);
  EXPECT_EQ(v->item_size, 8u);
  EXPECT_EQ(v->count, 2u);
  EXPECT_THAT(v->shape, ElementsAre(2, 1));
  ASSERT_EQ(v->data.size(), 16u);
  EXPECT_EQ(v->data.data(), bytes.data() + bytes.size() - 16);
  EXPECT_EQ(std::memcmp(v->data.data(), values, 16), 0);

  std::vector<uint8_t> u8 = NpyBytes(
      1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }\n", {});
  u8.insert(u8.end(), {1, 2, 255});
  Result<NpyView> b = ParseNpyView(u8);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->dtype, NpyDtype::kUint8);
  EXPECT_THAT(std::vector<uint8_t>(b->data.begin(), b->data.end()), ElementsAre(1, 2, 255));
}

TEST(ParseNpyView, RejectsOtherDtypesAndDataThatDoesNotFitTheShape) {
  for (const char* descr : {">i4", "<c8", "<U3", "O"}) {
    const std::string header =
        std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,), }\n";
    Result<NpyView> v = ParseNpyView(NpyBytes(1, header, {0, 0}));
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << descr;
    EXPECT_THAT(v.status().message(), HasSubstr(descr));
  }
  // 3 int16 values need 6 bytes; 4 (one float) are there.
  Result<NpyView> short_data = ParseNpyView(
      NpyBytes(1, "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }\n", {0}));
  EXPECT_EQ(short_data.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(short_data.status().message(), HasSubstr("truncated"));
  Result<NpyView> huge = ParseNpyView(NpyBytes(
      1, "{'descr': '|u1', 'fortran_order': False, 'shape': (72057594037927936, 9999), }\n",
      {0}));
  EXPECT_EQ(huge.status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace murmur
