#include "murmur/learn/cifar10_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "testing/data_files.h"

namespace murmur {
namespace {

using ::testing::HasSubstr;
using testing::DataDir;

// One 3073-byte record: the label, then red, green and blue planes whose
// pixel i of channel c is (seed + 3 * i + c) mod 256.
std::vector<uint8_t> Record(uint8_t label, int seed) {
  std::vector<uint8_t> r = {label};
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 1024; ++i) r.push_back(static_cast<uint8_t>((seed + 3 * i + c) % 256));
  }
  return r;
}

float Standardized(int value, int channel) {
  const float mean[3] = {0.4914f, 0.4822f, 0.4465f};
  const float std[3] = {0.2470f, 0.2435f, 0.2616f};
  return (static_cast<float>(value) / 255.0f - mean[channel]) / std[channel];
}

// Batch k (1..5) holds k records with labels k-1, ...; the test batch one.
void WriteCifar(const DataDir& dir) {
  for (int k = 1; k <= 5; ++k) {
    std::vector<uint8_t> bytes;
    for (int r = 0; r < k; ++r) {
      const std::vector<uint8_t> rec = Record(static_cast<uint8_t>((k - 1 + r) % 10), 10 * k + r);
      bytes.insert(bytes.end(), rec.begin(), rec.end());
    }
    testing::WriteBytes(dir.File("data_batch_" + std::to_string(k) + ".bin"), bytes);
  }
  testing::WriteBytes(dir.File("test_batch.bin"), Record(9, 200));
}

TEST(LoadCifar10, ReadsRecordsInFileOrderAsStandardizedChannelsFirstImages) {
  DataDir dir;
  WriteCifar(dir);
  Result<TrainTestSplit> s = LoadCifar10(dir.path().string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  const Dataset& train = s->train;
  EXPECT_EQ(train.channels, 3);
  EXPECT_EQ(train.height, 32);
  EXPECT_EQ(train.width, 32);
  EXPECT_EQ(train.num_classes, 10);
  ASSERT_EQ(train.size(), 1 + 2 + 3 + 4 + 5);
  EXPECT_EQ(train.labels, (std::vector<int64_t>{0, 1, 2, 2, 3, 4, 3, 4, 5, 6, 4, 5, 6, 7, 8}));
  ASSERT_EQ(train.features.size(), 15u * 3072);
  // Sample 3 is batch 3's first record (seed 30); check every pixel.
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 1024; ++i) {
      ASSERT_FLOAT_EQ(train.features[3 * 3072 + c * 1024 + i],
                      Standardized((30 + 3 * i + c) % 256, c))
          << c << " " << i;
    }
  }
  ASSERT_EQ(s->test.size(), 1);
  EXPECT_EQ(s->test.labels[0], 9);
  EXPECT_FLOAT_EQ(s->test.features[2 * 1024 + 5], Standardized((200 + 15 + 2) % 256, 2));
  EXPECT_TRUE(train.writers.empty());
}

TEST(LoadCifar10, MissingFileListsTheExpectedFilesAndWhereToGetThem) {
  DataDir dir;
  WriteCifar(dir);
  std::filesystem::remove(dir.File("data_batch_4.bin"));
  Result<TrainTestSplit> s = LoadCifar10(dir.path().string());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr(dir.File("data_batch_4.bin")));
  EXPECT_THAT(s.status().message(), HasSubstr("test_batch.bin"));
  EXPECT_THAT(s.status().message(), HasSubstr("cifar-10-binary.tar.gz"));
}

TEST(LoadCifar10, RejectsTruncatedFilesAndBadLabelsNamingTheFile) {
  DataDir dir;
  WriteCifar(dir);
  std::vector<uint8_t> cut = Record(1, 1);
  cut.pop_back();
  testing::WriteBytes(dir.File("data_batch_2.bin"), cut);
  Result<TrainTestSplit> s = LoadCifar10(dir.path().string());
  EXPECT_EQ(s.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.status().message(), HasSubstr(dir.File("data_batch_2.bin")));
  EXPECT_THAT(s.status().message(), HasSubstr("3072 bytes"));

  WriteCifar(dir);
  testing::WriteBytes(dir.File("test_batch.bin"), Record(10, 1));
  s = LoadCifar10(dir.path().string());
  EXPECT_EQ(s.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.status().message(), HasSubstr(dir.File("test_batch.bin")));
  EXPECT_THAT(s.status().message(), HasSubstr("label 10"));

  testing::WriteBytes(dir.File("test_batch.bin"), {});
  s = LoadCifar10(dir.path().string());
  EXPECT_EQ(s.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.status().message(), HasSubstr("0 bytes"));
}

}  // namespace
}  // namespace murmur
