#include "murmur/learn/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

namespace murmur {
namespace {

std::vector<float> Params() { return {1.5f, -2.25f, 0.0f, 3e-8f, 1e6f}; }

TEST(Checkpoint, RoundTripsExactly) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(Params());
  // magic 8 + version 4 + count 8 + 5 floats + crc 4
  EXPECT_EQ(bytes.size(), 8u + 4 + 8 + 5 * 4 + 4);
  Result<std::vector<float>> back = DecodeCheckpoint(bytes, 5);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, Params());
}

// Found by checkpoint_fuzz under UBSan (memcpy into an empty vector's null
// buffer): a model of no parameters is a valid 24-byte file.
TEST(Checkpoint, RoundTripsAnEmptyModel) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint({});
  EXPECT_EQ(bytes.size(), 8u + 4 + 8 + 4);
  Result<std::vector<float>> back = DecodeCheckpoint(bytes, 0);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->empty());
  EXPECT_EQ(DecodeCheckpoint(bytes, 1).status().code(), StatusCode::kInvalidArgument);
}

TEST(Checkpoint, RejectsEveryTruncation) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(Params());
  for (size_t len = 0; len < bytes.size(); ++len) {
    Result<std::vector<float>> r =
        DecodeCheckpoint(std::span<const uint8_t>(bytes).first(len), 5);
    ASSERT_FALSE(r.ok()) << "length " << len;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << "length " << len;
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(DecodeCheckpoint(longer, 5).status().code(), StatusCode::kCorrupt);
}

TEST(Checkpoint, RejectsAnyFlippedBit) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(Params());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x10;
    Result<std::vector<float>> r = DecodeCheckpoint(bad, 5);
    ASSERT_FALSE(r.ok()) << "byte " << i;
  }
}

TEST(Checkpoint, NamesTheProblem) {
  std::vector<uint8_t> bytes = EncodeCheckpoint(Params());
  std::vector<uint8_t> magic = bytes;
  magic[0] = 'X';
  EXPECT_NE(DecodeCheckpoint(magic, 5).status().message().find("magic"), std::string::npos);
  std::vector<uint8_t> payload = bytes;
  payload[21] ^= 1;
  EXPECT_NE(DecodeCheckpoint(payload, 5).status().message().find("CRC"), std::string::npos);
  Result<std::vector<float>> other_model = DecodeCheckpoint(bytes, 6);
  EXPECT_EQ(other_model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other_model.status().message().find("different model"), std::string::npos);
  // A checkpoint written with a NaN is refused although its CRC is right.
  std::vector<float> nan = Params();
  nan[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(DecodeCheckpoint(EncodeCheckpoint(nan), 5).status().code(), StatusCode::kCorrupt);
}

TEST(Checkpoint, SavesAndLoadsFiles) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "murmur_checkpoint_test.ckpt").string();
  ASSERT_TRUE(SaveCheckpoint(path, Params()).ok());
  Result<std::vector<float>> loaded = LoadCheckpoint(path, 5);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(*loaded, Params());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  Result<std::vector<float>> truncated = LoadCheckpoint(path, 5);
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(truncated.status().message().find(path), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_EQ(LoadCheckpoint(path, 5).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace murmur
