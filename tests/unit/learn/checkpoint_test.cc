#include "murmur/learn/checkpoint.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

namespace murmur {
namespace {

std::vector<float> Params() { return {1.5f, -2.25f, 0.0f, 3e-8f, 1e6f}; }
const std::string kArch = "toy [3,2]";  // 9 bytes

TEST(Checkpoint, RoundTripsExactly) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(Params(), kArch);
  // magic 8 + version 4 + architecture 4 + 9 + count 8 + 5 floats + crc 4
  EXPECT_EQ(bytes.size(), 8u + 4 + 4 + 9 + 8 + 5 * 4 + 4);
  Result<std::vector<float>> back = DecodeCheckpoint(bytes, kArch, 5);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, Params());
}

// Found by checkpoint_fuzz under UBSan (memcpy into an empty vector's null
// buffer): a model of no parameters is a valid 24-byte file.
TEST(Checkpoint, RoundTripsAnEmptyModel) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint({}, "");
  EXPECT_EQ(bytes.size(), 8u + 4 + 4 + 8 + 4);
  Result<std::vector<float>> back = DecodeCheckpoint(bytes, "", 0);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->empty());
  EXPECT_EQ(DecodeCheckpoint(bytes, "", 1).status().code(), StatusCode::kInvalidArgument);
}

TEST(Checkpoint, RejectsEveryTruncation) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(Params(), kArch);
  for (size_t len = 0; len < bytes.size(); ++len) {
    Result<std::vector<float>> r =
        DecodeCheckpoint(std::span<const uint8_t>(bytes).first(len), kArch, 5);
    ASSERT_FALSE(r.ok()) << "length " << len;
    EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << "length " << len;
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(DecodeCheckpoint(longer, kArch, 5).status().code(), StatusCode::kCorrupt);
}

TEST(Checkpoint, RejectsAnyFlippedBit) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(Params(), kArch);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x10;
    Result<std::vector<float>> r = DecodeCheckpoint(bad, kArch, 5);
    ASSERT_FALSE(r.ok()) << "byte " << i;
  }
}

TEST(Checkpoint, NamesTheProblem) {
  std::vector<uint8_t> bytes = EncodeCheckpoint(Params(), kArch);
  std::vector<uint8_t> magic = bytes;
  magic[0] = 'X';
  EXPECT_NE(DecodeCheckpoint(magic, kArch, 5).status().message().find("magic"), std::string::npos);
  std::vector<uint8_t> payload = bytes;
  payload[34] ^= 1;
  EXPECT_NE(DecodeCheckpoint(payload, kArch, 5).status().message().find("CRC"), std::string::npos);
  Result<std::vector<float>> other_model = DecodeCheckpoint(bytes, kArch, 6);
  EXPECT_EQ(other_model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other_model.status().message().find("different model"), std::string::npos);
  // A checkpoint written with a NaN is refused although its CRC is right.
  std::vector<float> nan = Params();
  nan[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(DecodeCheckpoint(EncodeCheckpoint(nan, kArch), kArch, 5).status().code(), StatusCode::kCorrupt);
}

// A checkpoint of another architecture is refused by name, with both
// models, even when the parameter counts agree (the same 5 floats as 3 + 2
// or 2 + 3 are different models).
TEST(Checkpoint, RefusesAnotherArchitectureNamingBoth) {
  const std::vector<uint8_t> bytes = EncodeCheckpoint(Params(), kArch);
  Result<std::vector<float>> swapped = DecodeCheckpoint(bytes, "toy [2,3]", 5);
  ASSERT_EQ(swapped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(swapped.status().message(),
            "checkpoint was saved from model toy (5 parameters) but the config builds toy (5 "
            "parameters) (parameter tensor 0: 3 values in the checkpoint, 2 in the model): set the "
            "model.* keys (and data) it was trained with, or drop model.init_checkpoint");
  Result<std::vector<float>> other = DecodeCheckpoint(bytes, "mlp-8 [6272,8,80,10]", 6370);
  ASSERT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("saved from model toy (5 parameters) but the config "
                                          "builds mlp-8 (6370 parameters)"),
            std::string::npos)
      << other.status().message();
}

// Version 1 files (no architecture) still load, checked by count only.
TEST(Checkpoint, ReadsVersionOneFiles) {
  std::vector<uint8_t> v1 = {'M', 'R', 'M', 'R', 'C', 'K', 'P', 'T', 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
  for (float f : {1.5f, -2.0f}) {
    const auto* b = reinterpret_cast<const uint8_t*>(&f);
    v1.insert(v1.end(), b, b + 4);
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, v1.data(), static_cast<uInt>(v1.size()));
  const auto crc32v = static_cast<uint32_t>(crc);
  const auto* c = reinterpret_cast<const uint8_t*>(&crc32v);
  v1.insert(v1.end(), c, c + 4);
  Result<std::vector<float>> back = DecodeCheckpoint(v1, "anything [2]", 2);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(DecodeCheckpoint(v1, "anything [3]", 3).status().code(), StatusCode::kInvalidArgument);
}

TEST(Checkpoint, SavesAndLoadsFiles) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "murmur_checkpoint_test.ckpt").string();
  ASSERT_TRUE(SaveCheckpoint(path, Params(), kArch).ok());
  Result<std::vector<float>> loaded = LoadCheckpoint(path, kArch, 5);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(*loaded, Params());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  Result<std::vector<float>> truncated = LoadCheckpoint(path, kArch, 5);
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(truncated.status().message().find(path), std::string::npos);
  std::filesystem::remove(path);
  EXPECT_EQ(LoadCheckpoint(path, kArch, 5).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace murmur
