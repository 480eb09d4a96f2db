#include "murmur/learn/npz_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "testing/data_files.h"

namespace murmur {
namespace {

using ::testing::HasSubstr;
using testing::DataDir;
using testing::NpyBytes;
using testing::RawBytes;
using testing::ZipWriter;

// x_train: 3 samples of 2x2 float32; y_train int64; x_test 1 sample; y_test
// int32; writer_train int16 with sparse ids.
ZipWriter SmallArchive(ZipWriter::Method method) {
  ZipWriter zip;
  zip.Add("x_train.npy",
          NpyBytes("<f4", {3, 2, 2},
                   RawBytes(std::vector<float>{0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11.25f})),
          method);
  zip.Add("y_train.npy", NpyBytes("<i8", {3}, RawBytes(std::vector<int64_t>{2, 0, 4})), method);
  zip.Add("x_test.npy", NpyBytes("<f4", {1, 2, 2}, RawBytes(std::vector<float>{1, 2, 3, 4})),
          method);
  zip.Add("y_test.npy", NpyBytes("<i4", {1}, RawBytes(std::vector<int32_t>{1})), method);
  zip.Add("writer_train.npy", NpyBytes("<i2", {3}, RawBytes(std::vector<int16_t>{7, -3, 7})),
          method);
  return zip;
}

void ExpectSmallArchive(const TrainTestSplit& s) {
  EXPECT_EQ(s.train.size(), 3);
  EXPECT_EQ(s.train.channels, 1);
  EXPECT_EQ(s.train.height, 2);
  EXPECT_EQ(s.train.width, 2);
  EXPECT_EQ(s.train.features,
            (std::vector<float>{0.5f, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11.25f}));
  EXPECT_EQ(s.train.labels, (std::vector<int64_t>{2, 0, 4}));
  EXPECT_EQ(s.test.features, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(s.test.labels, (std::vector<int64_t>{1}));
  EXPECT_EQ(s.train.num_classes, 5);
  EXPECT_EQ(s.test.num_classes, 5);
  // Distinct ids ascending: -3 -> 0, 7 -> 1.
  EXPECT_EQ(s.train.writers, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(s.train.num_writers, 2);
  EXPECT_TRUE(s.test.writers.empty());
}

TEST(LoadNpz, ReadsStoredMembersExactly) {
  DataDir dir;
  testing::WriteBytes(dir.File("d.npz"), SmallArchive(ZipWriter::Method::kStored).Bytes());
  Result<TrainTestSplit> s = LoadNpz(dir.File("d.npz"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  ExpectSmallArchive(*s);
}

TEST(LoadNpz, ReadsDeflatedMembersExactly) {
  DataDir dir;
  testing::WriteBytes(dir.File("d.npz"), SmallArchive(ZipWriter::Method::kDeflated).Bytes());
  Result<TrainTestSplit> s = LoadNpz(dir.File("d.npz"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  ExpectSmallArchive(*s);
}

TEST(LoadNpz, ScalesUint8ByTwoFiftyFiveAndKeepsChannelsFirst) {
  DataDir dir;
  ZipWriter zip;
  std::vector<uint8_t> pixels(2 * 3 * 1 * 2);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 20);
  pixels[11] = 255;
  zip.Add("x_train.npy", NpyBytes("|u1", {2, 3, 1, 2}, pixels));
  zip.Add("y_train.npy", NpyBytes("|u1", {2}, {9, 3}));
  zip.Add("x_test.npy", NpyBytes("|u1", {1, 3, 1, 2}, {0, 51, 102, 153, 204, 255}));
  zip.Add("y_test.npy", NpyBytes("<u8", {1}, RawBytes(std::vector<uint64_t>{0})));
  testing::WriteBytes(dir.File("u8.npz"), zip.Bytes());
  Result<TrainTestSplit> s = LoadNpz(dir.File("u8.npz"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->train.channels, 3);
  EXPECT_EQ(s->train.height, 1);
  EXPECT_EQ(s->train.width, 2);
  ASSERT_EQ(s->train.features.size(), 12u);
  for (size_t i = 0; i < 11; ++i) {
    EXPECT_FLOAT_EQ(s->train.features[i], static_cast<float>(i * 20) / 255.0f) << i;
  }
  EXPECT_EQ(s->train.features[11], 1.0f);
  EXPECT_EQ(s->test.features, (std::vector<float>{0, 0.2f, 0.4f, 0.6f, 0.8f, 1}));
  EXPECT_EQ(s->train.num_classes, 10);
  EXPECT_TRUE(s->train.writers.empty());
  EXPECT_EQ(s->train.num_writers, 0);
}

TEST(LoadNpz, FlatSamplesAreOneByOneByD) {
  DataDir dir;
  ZipWriter zip;
  zip.Add("x_train.npy", NpyBytes("<f8", {2, 3}, RawBytes(std::vector<double>{1, 2, 3, 4, 5, 6})));
  zip.Add("y_train.npy", NpyBytes("<i8", {2, 1}, RawBytes(std::vector<int64_t>{0, 1})));
  zip.Add("x_test.npy", NpyBytes("<f8", {1, 3}, RawBytes(std::vector<double>{7, 8, 9})));
  zip.Add("y_test.npy", NpyBytes("<i8", {1}, RawBytes(std::vector<int64_t>{1})));
  testing::WriteBytes(dir.File("f.npz"), zip.Bytes());
  Result<TrainTestSplit> s = LoadNpz(dir.File("f.npz"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->train.channels * s->train.height, 1);
  EXPECT_EQ(s->train.width, 3);
  EXPECT_EQ(s->train.features, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(s->train.labels, (std::vector<int64_t>{0, 1}));
}

// The real writer: numpy.savez and numpy.savez_compressed (zip64 headers,
// NumPy's own .npy headers).
TEST(LoadNpz, ReadsWhatNumpyWrites) {
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with numpy (python3-numpy) is not installed";
  }
  DataDir dir;
  const std::string script =
      "import numpy as np, sys\n"
      "x = np.arange(24, dtype=np.uint8).reshape(4, 2, 3) * 10\n"
      "kw = dict(x_train=x, y_train=np.array([3, 1, 0, 2], dtype=np.int32),\n"
      "          x_test=np.array([[[0.25, 0.5, 1], [2, 4, 8]]], dtype=np.float32),\n"
      "          y_test=np.array([1]), writer_train=np.array([10, 20, 10, 30]))\n"
      "np.savez(sys.argv[1] + '/plain.npz', **kw)\n"
      "np.savez_compressed(sys.argv[1] + '/packed.npz', **kw)\n";
  testing::WriteText(dir.File("make.py"), script);
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir.File("make.py") + " " + dir.path().string())
                            .c_str()),
            0);
  for (const char* name : {"plain.npz", "packed.npz"}) {
    Result<TrainTestSplit> s = LoadNpz(dir.File(name));
    ASSERT_TRUE(s.ok()) << name << ": " << s.status().message();
    EXPECT_EQ(s->train.height, 2) << name;
    EXPECT_EQ(s->train.width, 3) << name;
    ASSERT_EQ(s->train.features.size(), 24u) << name;
    for (int i = 0; i < 24; ++i) {
      EXPECT_FLOAT_EQ(s->train.features[i], static_cast<float>(i * 10) / 255.0f) << name;
    }
    EXPECT_EQ(s->train.labels, (std::vector<int64_t>{3, 1, 0, 2})) << name;
    EXPECT_EQ(s->test.features, (std::vector<float>{0.25f, 0.5f, 1, 2, 4, 8})) << name;
    EXPECT_EQ(s->train.writers, (std::vector<int64_t>{0, 1, 0, 2})) << name;
    EXPECT_EQ(s->train.num_classes, 4) << name;
  }
}

TEST(LoadNpz, MissingFileOrArraySaysWhatWasExpected) {
  DataDir dir;
  Result<TrainTestSplit> missing = LoadNpz(dir.File("absent.npz"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(dir.File("absent.npz")));
  EXPECT_THAT(missing.status().message(), HasSubstr("x_train"));

  ZipWriter zip;
  zip.Add("x_train.npy", NpyBytes("<f4", {1, 1}, RawBytes(std::vector<float>{1})));
  zip.Add("y_train.npy", NpyBytes("<i8", {1}, RawBytes(std::vector<int64_t>{0})));
  zip.Add("x_test.npy", NpyBytes("<f4", {1, 1}, RawBytes(std::vector<float>{1})));
  testing::WriteBytes(dir.File("no_y_test.npz"), zip.Bytes());
  Result<TrainTestSplit> partial = LoadNpz(dir.File("no_y_test.npz"));
  EXPECT_EQ(partial.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(partial.status().message(), HasSubstr("'y_test'"));
  EXPECT_THAT(partial.status().message(), HasSubstr("no_y_test.npz"));
}

// Every damaged archive is refused with a message naming the file; none
// crashes or allocates what a header claims.
TEST(LoadNpz, RejectsMalformedArchivesNamingTheFile) {
  DataDir dir;
  const std::vector<uint8_t> good = SmallArchive(ZipWriter::Method::kDeflated).Bytes();
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string says;
  };
  std::vector<Case> cases;
  cases.push_back({"text.npz", {'h', 'e', 'l', 'l', 'o'}, "not a zip archive"});
  cases.push_back({"cut.npz", std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2),
                   "not a zip archive"});
  {
    ZipWriter zip;  // y_train's length disagrees with x_train's
    zip.Add("x_train.npy", NpyBytes("<f4", {2, 1}, RawBytes(std::vector<float>{1, 2})));
    zip.Add("y_train.npy", NpyBytes("<i8", {3}, RawBytes(std::vector<int64_t>{0, 1, 0})));
    cases.push_back({"length.npz", zip.Bytes(), "'y_train': shape (3) should be (2,)"});
  }
  {
    ZipWriter zip;  // a shape of 2^40 x 784 samples in a few bytes
    zip.Add("x_train.npy",
            NpyBytes("<f4", {int64_t{1} << 40, 784}, RawBytes(std::vector<float>{1})));
    cases.push_back({"huge_shape.npz", zip.Bytes(), "data truncated"});
  }
  {
    ZipWriter zip;  // a stored member claiming 4 GB
    zip.Add("x_train.npy", NpyBytes("<f4", {1}, RawBytes(std::vector<float>{1})),
            ZipWriter::Method::kStored, 0xfffffff0);
    cases.push_back({"huge_stored.npz", zip.Bytes(), "more than a stored member holds"});
  }
  {
    ZipWriter zip;  // a deflated member claiming far beyond deflate's ratio
    zip.Add("x_train.npy", NpyBytes("<f4", {1}, RawBytes(std::vector<float>{1})),
            ZipWriter::Method::kDeflated, 0xfffffff0);
    cases.push_back({"huge_deflated.npz", zip.Bytes(), "more than deflate can produce"});
  }
  {
    ZipWriter zip;  // claims 2 KB more than the stream inflates to
    const std::vector<uint8_t> npy = NpyBytes("<f4", {1}, RawBytes(std::vector<float>{1}));
    zip.Add("x_train.npy", npy, ZipWriter::Method::kDeflated,
            static_cast<int64_t>(npy.size()) + 2048);
    cases.push_back({"short.npz", zip.Bytes(), "x_train.npy"});
  }
  {
    ZipWriter zip;
    zip.Add("x_train.npy", NpyBytes("<f4", {1, 1}, RawBytes(std::vector<float>{1})),
            ZipWriter::Method::kDeflated, -1, /*corrupt_crc=*/true);
    cases.push_back({"crc.npz", zip.Bytes(), "CRC"});
  }
  {
    ZipWriter zip;
    zip.Add("x_train.npy", NpyBytes("<c8", {1}, std::vector<uint8_t>(8)));
    cases.push_back({"complex.npz", zip.Bytes(), "dtype '<c8'"});
  }
  {
    ZipWriter zip;
    zip.Add("x_train.npy", NpyBytes("<f4", {1, 1}, RawBytes(std::vector<float>{1})));
    zip.Add("y_train.npy", NpyBytes("<f4", {1}, RawBytes(std::vector<float>{1})));
    cases.push_back({"float_labels.npz", zip.Bytes(), "must hold integers"});
  }
  {
    ZipWriter zip;
    zip.Add("x_train.npy", NpyBytes("<f4", {1, 1}, RawBytes(std::vector<float>{1})));
    zip.Add("y_train.npy", NpyBytes("<i8", {1}, RawBytes(std::vector<int64_t>{-1})));
    cases.push_back({"negative_label.npz", zip.Bytes(), "label -1"});
  }
  {
    ZipWriter zip;
    zip.Add("x_train.npy", NpyBytes("<f4", {1, 1}, RawBytes(std::vector<float>{NAN})));
    cases.push_back({"nan.npz", zip.Bytes(), "not finite"});
  }
  {
    ZipWriter zip;
    zip.Add("x_train.npy", NpyBytes("<f4", {1, 1, 1, 1, 1}, RawBytes(std::vector<float>{1})));
    cases.push_back({"rank5.npz", zip.Bytes(), "dimensions"});
  }
  {
    ZipWriter other;  // test samples shaped unlike training samples
    other.Add("x_train.npy", NpyBytes("<f4", {1, 2, 2}, RawBytes(std::vector<float>{1, 2, 3, 4})));
    other.Add("y_train.npy", NpyBytes("<i8", {1}, RawBytes(std::vector<int64_t>{0})));
    other.Add("x_test.npy", NpyBytes("<f4", {1, 4}, RawBytes(std::vector<float>{1, 2, 3, 4})));
    other.Add("y_test.npy", NpyBytes("<i8", {1}, RawBytes(std::vector<int64_t>{0})));
    cases.push_back({"shapes.npz", other.Bytes(), "x_test samples are 1x1x4"});
  }
  for (const Case& c : cases) {
    const std::string path = dir.File(c.name);
    testing::WriteBytes(path, c.bytes);
    Result<TrainTestSplit> s = LoadNpz(path);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_NE(s.status().code(), StatusCode::kNotFound) << c.name;
    EXPECT_THAT(s.status().message(), HasSubstr(path)) << c.name;
    EXPECT_THAT(s.status().message(), HasSubstr(c.says)) << c.name;
  }
}

}  // namespace
}  // namespace murmur
