#include "murmur/learn/dataset.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "murmur/core/rng.h"

namespace murmur {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("murmur_learn_" + std::to_string(getpid()) + "_" +
             info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const {
    return (path_ / name).string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteGzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

void WritePlain(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// IDX bytes for an unsigned-byte array of the given dims and contents.
std::vector<uint8_t> Idx(const std::vector<uint32_t>& dims,
                         const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    out.push_back(static_cast<uint8_t>(d >> 24));
    out.push_back(static_cast<uint8_t>(d >> 16));
    out.push_back(static_cast<uint8_t>(d >> 8));
    out.push_back(static_cast<uint8_t>(d));
  }
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

TEST(ParseIdx, AcceptsTinyTwoDimensionalArray) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3,
                                1, 2, 3,    4, 5, 255};
  Result<IdxArray> idx = ParseIdx(bytes);
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  EXPECT_EQ(idx->dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(idx->data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 255}));
}

TEST(ParseIdx, ReadsDimensionsBigEndian) {
  std::vector<uint8_t> data(0x0102, 7);
  Result<IdxArray> idx = ParseIdx(Idx({0x0102}, data));
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  EXPECT_EQ(idx->dims, (std::vector<int64_t>{258}));
  EXPECT_EQ(idx->data.size(), 258u);
}

void ExpectCorrupt(const std::vector<uint8_t>& bytes, const std::string& what) {
  Result<IdxArray> idx = ParseIdx(bytes);
  ASSERT_FALSE(idx.ok());
  EXPECT_EQ(idx.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(idx.status().message().find(what), std::string::npos)
      << idx.status().message();
}

TEST(ParseIdx, RejectsTruncatedHeader) {
  ExpectCorrupt({}, "truncated header");
  ExpectCorrupt({0, 0, 8}, "truncated header");
  // Claims 2 dims but holds only one and a half.
  ExpectCorrupt({0, 0, 8, 2, 0, 0, 0, 2, 0, 0}, "truncated header");
}

TEST(ParseIdx, RejectsTruncatedBody) {
  ExpectCorrupt(Idx({2, 3}, {1, 2, 3, 4, 5}), "truncated body");
}

TEST(ParseIdx, RejectsBadMagic) {
  std::vector<uint8_t> bytes = Idx({2}, {1, 2});
  bytes[0] = 1;
  ExpectCorrupt(bytes, "magic");
}

TEST(ParseIdx, RejectsUnsupportedElementType) {
  std::vector<uint8_t> bytes = Idx({1}, {0, 0, 0, 0});
  bytes[2] = 0x0D;  // float32
  ExpectCorrupt(bytes, "type");
}

TEST(ParseIdx, RejectsZeroDimensions) {
  ExpectCorrupt({0, 0, 8, 0}, "dimensions");
}

TEST(ParseIdx, RejectsTrailingBytes) {
  ExpectCorrupt(Idx({2}, {1, 2, 3}), "trailing");
}

TEST(ParseIdx, RejectsDimensionsWhoseProductOverflows) {
  ExpectCorrupt(Idx({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {1}),
                "truncated body");
}

TEST(ReadGzipFile, RoundTripsCompressedBytes) {
  TempDir dir;
  Rng rng(7, PeerId{0}, RngPurpose::kTest);
  std::vector<uint8_t> bytes(3 << 20);  // spans several read chunks
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = i % 3 == 0 ? static_cast<uint8_t>(rng.NextU32()) : i % 7;
  }
  WriteGzip(dir.File("a.gz"), bytes);
  Result<std::vector<uint8_t>> read = ReadGzipFile(dir.File("a.gz"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, bytes);
}

TEST(ReadGzipFile, ReadsPlainFileAsIs) {
  TempDir dir;
  std::vector<uint8_t> bytes = {9, 8, 7, 0, 1};
  WritePlain(dir.File("plain"), bytes);
  Result<std::vector<uint8_t>> read = ReadGzipFile(dir.File("plain"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, bytes);
}

TEST(ReadGzipFile, ReadsEmptyGzip) {
  TempDir dir;
  WriteGzip(dir.File("empty.gz"), {});
  Result<std::vector<uint8_t>> read = ReadGzipFile(dir.File("empty.gz"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(read->empty());
}

TEST(ReadGzipFile, ReturnsNotFoundForMissingFile) {
  TempDir dir;
  Result<std::vector<uint8_t>> read = ReadGzipFile(dir.File("missing.gz"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("missing.gz"), std::string::npos);
}

TEST(ReadGzipFile, ReturnsCorruptForTruncatedGzip) {
  TempDir dir;
  Rng rng(8, PeerId{0}, RngPurpose::kTest);
  std::vector<uint8_t> bytes(20000);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng.NextU32());
  WriteGzip(dir.File("cut.gz"), bytes);
  fs::resize_file(dir.File("cut.gz"), fs::file_size(dir.File("cut.gz")) / 2);
  Result<std::vector<uint8_t>> read = ReadGzipFile(dir.File("cut.gz"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kCorrupt);
}

TEST(ReadGzipFile, ReturnsCorruptForBadChecksum) {
  TempDir dir;
  std::vector<uint8_t> bytes(1000, 42);
  WriteGzip(dir.File("crc.gz"), bytes);
  // The gzip trailer is CRC32 then size, both little-endian: flip the CRC.
  std::fstream f(dir.File("crc.gz"),
                 std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-8, std::ios::end);
  char c = 0;
  f.read(&c, 1);
  f.seekp(-8, std::ios::end);
  c = static_cast<char>(c ^ 0xFF);
  f.write(&c, 1);
  f.close();
  Result<std::vector<uint8_t>> read = ReadGzipFile(dir.File("crc.gz"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kCorrupt);
}

// Writes the four Fashion-MNIST files with `n` images of 2x3 pixels.
void WriteTinyFashionMnist(const TempDir& dir, uint32_t train_images,
                           uint32_t train_labels,
                           const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> pixels(train_images * 6);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = (i * 51) % 256;
  WriteGzip(dir.File("train-images-idx3-ubyte.gz"),
            Idx({train_images, 2, 3}, pixels));
  WriteGzip(dir.File("train-labels-idx1-ubyte.gz"),
            Idx({train_labels}, labels));
  WriteGzip(dir.File("t10k-images-idx3-ubyte.gz"),
            Idx({1, 2, 3}, {0, 255, 0, 255, 0, 255}));
  WriteGzip(dir.File("t10k-labels-idx1-ubyte.gz"), Idx({1}, {9}));
}

TEST(LoadFashionMnist, NormalizesPixelsOfTinyFiles) {
  TempDir dir;
  WriteTinyFashionMnist(dir, 2, 2, {3, 7});
  Result<TrainTestSplit> split = LoadFashionMnist(dir.path().string());
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  const Dataset& train = split->train;
  EXPECT_EQ(train.size(), 2);
  EXPECT_EQ(train.channels, 1);
  EXPECT_EQ(train.height, 2);
  EXPECT_EQ(train.width, 3);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.labels, (std::vector<int64_t>{3, 7}));
  ASSERT_EQ(train.features.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    double pixel = static_cast<double>((i * 51) % 256);
    EXPECT_NEAR(train.features[i], (pixel / 255.0 - 0.2860) / 0.3530, 1e-5)
        << i;
  }
  EXPECT_EQ(split->test.size(), 1);
  EXPECT_EQ(split->test.labels[0], 9);
  EXPECT_NEAR(split->test.features[1], (1.0 - 0.2860) / 0.3530, 1e-5);
}

TEST(LoadFashionMnist, RejectsImageAndLabelCountMismatch) {
  TempDir dir;
  WriteTinyFashionMnist(dir, 2, 3, {1, 2, 3});
  Result<TrainTestSplit> split = LoadFashionMnist(dir.path().string());
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(split.status().message().find("train-labels"), std::string::npos)
      << split.status().message();
}

TEST(LoadFashionMnist, RejectsLabelOutsideTenClasses) {
  TempDir dir;
  WriteTinyFashionMnist(dir, 2, 2, {1, 10});
  Result<TrainTestSplit> split = LoadFashionMnist(dir.path().string());
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(split.status().message().find("label 10"), std::string::npos)
      << split.status().message();
}

TEST(LoadFashionMnist, ReturnsNotFoundWithInstallHintForEmptyDir) {
  TempDir dir;
  Result<TrainTestSplit> split = LoadFashionMnist(dir.path().string());
  ASSERT_FALSE(split.ok());
  EXPECT_EQ(split.status().code(), StatusCode::kNotFound);
  const std::string& message = split.status().message();
  EXPECT_NE(message.find("train-images-idx3-ubyte.gz"), std::string::npos)
      << message;
  EXPECT_NE(message.find("apt-get install dataset-fashion-mnist"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("synthetic"), std::string::npos) << message;
}

TEST(LoadFashionMnist, LoadsInstalledDataset) {
  if (!fs::exists(kFashionMnistDir)) {
    GTEST_SKIP() << kFashionMnistDir << " not installed";
  }
  Result<TrainTestSplit> split = LoadFashionMnist(kFashionMnistDir);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  for (const Dataset* d : {&split->train, &split->test}) {
    EXPECT_EQ(d->channels, 1);
    EXPECT_EQ(d->height, 28);
    EXPECT_EQ(d->width, 28);
    EXPECT_EQ(d->num_classes, 10);
    EXPECT_EQ(d->features.size(), static_cast<size_t>(d->size() * 784));
    // Fashion-MNIST is exactly balanced.
    std::vector<int64_t> counts(10, 0);
    for (int64_t label : d->labels) {
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 10);
      ++counts[label];
    }
    for (int64_t c : counts) EXPECT_EQ(c, d->size() / 10);
  }
  EXPECT_EQ(split->train.size(), 60000);
  EXPECT_EQ(split->test.size(), 10000);
  // The constants standardize the training pixels.
  double sum = 0, sum_sq = 0;
  for (float x : split->train.features) {
    sum += x;
    sum_sq += static_cast<double>(x) * x;
  }
  const double n = static_cast<double>(split->train.features.size());
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sum_sq / n - (sum / n) * (sum / n)), 1.0, 0.01);
}

TEST(MakeSyntheticDataset, HasRequestedShapeAndAllClasses) {
  SyntheticOptions o;
  o.train_size = 300;
  o.test_size = 100;
  o.num_classes = 4;
  o.height = 5;
  o.width = 6;
  TrainTestSplit split = MakeSyntheticDataset(o);
  EXPECT_EQ(split.train.size(), 300);
  EXPECT_EQ(split.test.size(), 100);
  for (const Dataset* d : {&split.train, &split.test}) {
    EXPECT_EQ(d->channels, 1);
    EXPECT_EQ(d->height, 5);
    EXPECT_EQ(d->width, 6);
    EXPECT_EQ(d->num_classes, 4);
    EXPECT_EQ(d->features.size(), static_cast<size_t>(d->size() * 30));
    std::vector<int64_t> counts(4, 0);
    for (int64_t label : d->labels) ++counts[label];
    for (int64_t c : counts) EXPECT_GT(c, 0);
  }
}

TEST(MakeSyntheticDataset, IsDeterministicInSeed) {
  SyntheticOptions o;
  o.train_size = 50;
  o.test_size = 20;
  TrainTestSplit a = MakeSyntheticDataset(o);
  TrainTestSplit b = MakeSyntheticDataset(o);
  EXPECT_EQ(a.train.features, b.train.features);
  EXPECT_EQ(a.train.labels, b.train.labels);
  EXPECT_EQ(a.test.features, b.test.features);
  o.seed = 2;
  TrainTestSplit c = MakeSyntheticDataset(o);
  EXPECT_NE(a.train.features, c.train.features);
}

// Generated in ranges on several threads, each from its own place in the
// stream, the bytes are those of one sequential pass.
TEST(MakeSyntheticDataset, BytesDoNotDependOnThreads) {
  SyntheticOptions o;
  o.train_size = 3000;  // three ranges of 1024 and a short one
  o.test_size = 1100;
  o.height = 4;
  o.width = 5;
  const TrainTestSplit one = MakeSyntheticDataset(o);
  o.threads = 3;
  const TrainTestSplit three = MakeSyntheticDataset(o);
  EXPECT_EQ(one.train.features, three.train.features);
  EXPECT_EQ(one.train.labels, three.train.labels);
  EXPECT_EQ(one.test.features, three.test.features);
  EXPECT_EQ(one.test.labels, three.test.labels);
}

TEST(MakeSyntheticDataset, TestSetDoesNotDependOnTrainSize) {
  SyntheticOptions o;
  o.train_size = 50;
  o.test_size = 20;
  TrainTestSplit a = MakeSyntheticDataset(o);
  o.train_size = 80;
  TrainTestSplit b = MakeSyntheticDataset(o);
  EXPECT_EQ(a.test.features, b.test.features);
  EXPECT_EQ(a.test.labels, b.test.labels);
}

TEST(MakeSyntheticDataset, NoiseIsAroundClassMeans) {
  // Two samples of the same class differ only by noise: their difference has
  // per-pixel variance 2 * noise^2.
  SyntheticOptions o;
  o.train_size = 200;
  o.test_size = 0;
  o.num_classes = 2;
  o.noise = 0.5;
  TrainTestSplit split = MakeSyntheticDataset(o);
  const Dataset& d = split.train;
  int64_t first = -1;
  double sum_sq = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    if (d.labels[i] != 0) continue;
    if (first < 0) {
      first = i;
      continue;
    }
    for (int64_t j = 0; j < d.sample_dim(); ++j) {
      double diff = d.features[i * 784 + j] - d.features[first * 784 + j];
      sum_sq += diff * diff;
      ++count;
    }
  }
  ASSERT_GT(count, 0);
  EXPECT_NEAR(sum_sq / static_cast<double>(count), 2 * 0.25, 0.05);
}

}  // namespace
}  // namespace murmur
