// A network peer's data (peer_data.h) against the simulator's: the same
// partition over the whole training set, so the rows a peer reads for its
// shard must be exactly the samples the simulated peer of its index trains
// on, in the same order, with the same float values.
#include "murmur/experiment/peer_data.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/core/rng.h"
#include "murmur/experiment/run_setup.h"
#include "murmur/learn/fashion_mnist_rows.h"
#include "murmur/learn/partition.h"
#include "testing/data_files.h"
#include "testing/seeded_test.h"

namespace murmur {
namespace {

using testing::DataDir;

constexpr uint32_t kTrain = 240;
constexpr uint32_t kTest = 20;
constexpr uint32_t kDim = 6;  // 2 x 3 pixels
constexpr int64_t kPeers = 6;

std::vector<uint8_t> Idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  }
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void WriteGzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// Pixels that differ from image to image; labels drawn at random so that
// label-skewed partitions have something to skew. `train_bytes` cuts the
// training image body short (the header still says kTrain images).
void WriteFashionMnist(const DataDir& dir, size_t train_bytes = kTrain * kDim) {
  std::vector<uint8_t> pixels(kTrain * kDim);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  pixels.resize(train_bytes);
  std::vector<uint8_t> labels(kTrain);
  Rng rng(7, PeerId(0), RngPurpose::kPartition);
  for (uint8_t& y : labels) y = static_cast<uint8_t>(rng.UniformInt(10));
  WriteGzip(dir.File("train-images-idx3-ubyte.gz"), Idx({kTrain, 2, 3}, pixels));
  WriteGzip(dir.File("train-labels-idx1-ubyte.gz"), Idx({kTrain}, labels));
  std::vector<uint8_t> test_pixels(kTest * kDim);
  for (size_t i = 0; i < test_pixels.size(); ++i) test_pixels[i] = static_cast<uint8_t>(255 - i);
  std::vector<uint8_t> test_labels(kTest);
  for (size_t i = 0; i < kTest; ++i) test_labels[i] = static_cast<uint8_t>(i % 10);
  WriteGzip(dir.File("t10k-images-idx3-ubyte.gz"), Idx({kTest, 2, 3}, test_pixels));
  WriteGzip(dir.File("t10k-labels-idx1-ubyte.gz"), Idx({kTest}, test_labels));
}

RunConfig ConfigOf(const std::string& data, uint64_t seed, const std::string& partition) {
  Config config = Config::FromString("peers = " + std::to_string(kPeers) + "\nseed = " +
                                         std::to_string(seed) + "\n[data]\n" + data +
                                         "partition = \"" + partition + "\"\n" +
                                         "alpha = 0.3\nmin_samples_per_peer = 5\n",
                                     "peer_data_test.toml")
                      .value();
  Result<RunConfig> run = ReadRunConfig(config);
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  return run.value();
}

// Sample `row` of `data` as floats, whatever its storage.
std::vector<float> Sample(const Dataset& data, int64_t row) {
  std::vector<float> out(static_cast<size_t>(data.sample_dim()));
  data.CopySample(row, out.data());
  return out;
}

// `positions` into `peer` name exactly the samples `shard` names in `whole`,
// in order, bit for bit.
void ExpectSameSamples(const Dataset& whole, const std::vector<int64_t>& shard,
                       const Dataset& peer, const std::vector<int64_t>& positions) {
  ASSERT_EQ(positions.size(), shard.size());
  for (size_t k = 0; k < shard.size(); ++k) {
    ASSERT_GE(positions[k], 0);
    ASSERT_LT(positions[k], peer.size());
    EXPECT_EQ(peer.labels[positions[k]], whole.labels[shard[k]]) << "entry " << k;
    EXPECT_EQ(Sample(peer, positions[k]), Sample(whole, shard[k])) << "entry " << k;
  }
}

// Every peer of every seed and partition kind: what LoadPeerData reads for
// a shard (and for peer 0's beside it) is the simulator's shard, and the
// peer holds no other row.
void ExpectPeersMatchTheSimulator(const std::string& data_section, uint64_t seeds) {
  for (const char* kind : {"iid", "dirichlet", "shards"}) {
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      MURMUR_SEED_TRACE(seed);
      SCOPED_TRACE(kind);
      const RunConfig config = ConfigOf(data_section, seed, kind);
      Result<TrainTestSplit> whole = LoadRunData(config);
      ASSERT_TRUE(whole.ok()) << whole.status().ToString();
      Result<Partition> partition =
          PartitionDataset(whole->train, kPeers, config.data.partition, seed);
      ASSERT_TRUE(partition.ok()) << partition.status().ToString();
      for (uint32_t shard = 0; shard < kPeers; ++shard) {
        const bool with_peer0 = shard % 2 == 1;
        Result<PeerData> peer = LoadPeerData(config, shard, with_peer0);
        ASSERT_TRUE(peer.ok()) << peer.status().ToString();
        ExpectSameSamples(whole->train, (*partition)[shard], peer->train, peer->own);
        std::vector<int64_t> rows = (*partition)[shard];
        if (with_peer0) {
          ExpectSameSamples(whole->train, (*partition)[0], peer->train, peer->peer0);
          rows.insert(rows.end(), (*partition)[0].begin(), (*partition)[0].end());
          std::sort(rows.begin(), rows.end());
          rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        } else {
          EXPECT_TRUE(peer->peer0.empty());
        }
        EXPECT_EQ(peer->train.size(), static_cast<int64_t>(rows.size()));
      }
    }
  }
}

TEST(PeerData, FashionMnistPeerReadsExactlyItsSimulatedShard) {
  DataDir dir;
  WriteFashionMnist(dir);
  ExpectPeersMatchTheSimulator("dataset = \"fashion-mnist\"\npath = \"" + dir.path().string() +
                                   "\"\n",
                               20);
}

TEST(PeerData, FashionMnistPeerKeepsPixelsAsBytes) {
  DataDir dir;
  WriteFashionMnist(dir);
  const RunConfig config =
      ConfigOf("path = \"" + dir.path().string() + "\"\n", 3, "iid");
  Result<PeerData> peer = LoadPeerData(config, 2, false);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  EXPECT_TRUE(peer->train.stored_as_bytes());
  EXPECT_TRUE(peer->train.features.empty());
  EXPECT_EQ(peer->train.pixels.size(), static_cast<size_t>(kTrain / kPeers * kDim));
  EXPECT_FALSE(peer->test_loaded);
  ASSERT_TRUE(LoadPeerTestSet(config, *peer).ok());
  Result<TrainTestSplit> whole = LoadRunData(config);
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ(peer->test.size(), kTest);
  EXPECT_TRUE(peer->test.stored_as_bytes());
  for (int64_t i = 0; i < kTest; ++i) {
    EXPECT_EQ(Sample(peer->test, i), Sample(whole->test, i)) << i;
    EXPECT_EQ(peer->test.labels[i], whole->test.labels[i]) << i;
  }
  DropPeerTestSet(*peer);
  EXPECT_EQ(peer->test.size(), 0);
  EXPECT_TRUE(peer->test.pixels.empty());
}

TEST(PeerData, FormatsReadWholeAreCutToTheShard) {
  ExpectPeersMatchTheSimulator(
      "dataset = \"synthetic\"\nsynthetic_train = 240\nsynthetic_test = 30\n", 5);
}

TEST(PeerData, ImageFileCutInsideARowIsAUserErrorNamingTheRow) {
  DataDir dir;
  // 100 whole rows and half of row 100.
  WriteFashionMnist(dir, 100 * kDim + kDim / 2);
  const RunConfig config = ConfigOf("path = \"" + dir.path().string() + "\"\n", 1, "iid");
  for (uint32_t shard : {0u, 5u}) {
    Result<PeerData> peer = LoadPeerData(config, shard, false);
    ASSERT_FALSE(peer.ok());
    // kInvalidArgument: the CLI's exit code 2, as for a damaged whole load.
    EXPECT_EQ(peer.status().code(), StatusCode::kInvalidArgument);
    const std::string& message = peer.status().message();
    EXPECT_NE(message.find(dir.File("train-images-idx3-ubyte.gz")), std::string::npos) << message;
    EXPECT_NE(message.find("ends inside image row 100 of 240 (3 of its 6 bytes present)"),
              std::string::npos)
        << message;
  }
}

TEST(PeerData, DamagedGzipStreamIsAUserError) {
  DataDir dir;
  WriteFashionMnist(dir);
  const std::string images = dir.File("train-images-idx3-ubyte.gz");
  std::filesystem::resize_file(images, std::filesystem::file_size(images) - 12);
  Result<PeerData> peer = LoadPeerData(ConfigOf("path = \"" + dir.path().string() + "\"\n", 1,
                                                "iid"),
                                       1, false);
  ASSERT_FALSE(peer.ok());
  EXPECT_EQ(peer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(peer.status().message().find(images), std::string::npos) << peer.status().message();
}

TEST(PeerData, RowsMustAscendWithinTheSplit) {
  DataDir dir;
  WriteFashionMnist(dir);
  Result<Dataset> labels = LoadFashionMnistLabels(dir.path().string(), FashionMnistSplit::kTrain);
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  for (const std::vector<int64_t>& rows :
       {std::vector<int64_t>{3, 2}, std::vector<int64_t>{1, 1}, std::vector<int64_t>{kTrain}}) {
    Dataset copy = *labels;
    EXPECT_EQ(LoadFashionMnistRows(dir.path().string(), FashionMnistSplit::kTrain, rows, copy)
                  .code(),
              StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace murmur
