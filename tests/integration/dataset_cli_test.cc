// Bring-your-own datasets through the murmur binary: a missing or damaged
// dataset is the user's to fix, so `murmur run` exits 2 with a message that
// names the file and says what was expected, never crashes. (The readers'
// formats and edge cases are unit tests in tests/unit/learn/.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "testing/cli_runner.h"

namespace {

using ::testing::HasSubstr;
using murmur::testing::CliOutcome;
using murmur::testing::RunMurmur;

CliOutcome RunWithData(const std::string& settings) {
  return RunMurmur("run --quiet --threads 1 --set peers=2 --set protocol.rounds=1 " + settings);
}

class DatasetCli : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = murmur::testing::FreshTempDir("data"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(dir_ + "/" + name).parent_path());
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }
  std::string dir_;
};

TEST_F(DatasetCli, MissingDatasetsExitTwoSayingWhatWasExpectedWhere) {
  CliOutcome leaf = RunWithData("--set data.dataset=leaf --set data.path=" + dir_ + "/none");
  EXPECT_EQ(leaf.exit_code, 2) << leaf.output;
  EXPECT_THAT(leaf.output, HasSubstr(dir_ + "/none/train"));
  EXPECT_THAT(leaf.output, HasSubstr("preprocess.sh"));

  CliOutcome cifar = RunWithData("--set data.dataset=cifar10 --set data.path=" + dir_);
  EXPECT_EQ(cifar.exit_code, 2) << cifar.output;
  EXPECT_THAT(cifar.output, HasSubstr(dir_ + "/data_batch_1.bin"));
  EXPECT_THAT(cifar.output, HasSubstr("cifar-10-binary.tar.gz"));

  CliOutcome npz = RunWithData("--set data.dataset=npz --set data.path=" + dir_ + "/d.npz");
  EXPECT_EQ(npz.exit_code, 2) << npz.output;
  EXPECT_THAT(npz.output, HasSubstr(dir_ + "/d.npz"));

  CliOutcome no_path = RunWithData("--set data.dataset=npz");
  EXPECT_EQ(no_path.exit_code, 2) << no_path.output;
  EXPECT_THAT(no_path.output, HasSubstr("needs data.path"));
}

TEST_F(DatasetCli, DamagedFilesExitTwoNamingTheFile) {
  Write("bad.npz", "PK not really a zip");
  CliOutcome npz = RunWithData("--set data.dataset=npz --set data.path=" + dir_ + "/bad.npz");
  EXPECT_EQ(npz.exit_code, 2) << npz.output;
  EXPECT_THAT(npz.output, HasSubstr(dir_ + "/bad.npz' is not a zip archive"));

  Write("leaf/train/a.json", R"({"users": ["u"], "num_samples": [1], "user_data": {"u": {"x": [[1)");
  Write("leaf/test/a.json", "{}");
  CliOutcome leaf = RunWithData("--set data.dataset=leaf --set data.path=" + dir_ + "/leaf");
  EXPECT_EQ(leaf.exit_code, 2) << leaf.output;
  EXPECT_THAT(leaf.output, HasSubstr(dir_ + "/leaf/train/a.json' is not valid JSON"));

  std::string short_record(3000, '\0');
  for (int k = 1; k <= 5; ++k) Write("cifar/data_batch_" + std::to_string(k) + ".bin", short_record);
  Write("cifar/test_batch.bin", short_record);
  CliOutcome cifar = RunWithData("--set data.dataset=cifar10 --set data.path=" + dir_ + "/cifar");
  EXPECT_EQ(cifar.exit_code, 2) << cifar.output;
  EXPECT_THAT(cifar.output, HasSubstr(dir_ + "/cifar/data_batch_1.bin' has 3000 bytes"));
}

TEST_F(DatasetCli, NaturalPartitionOfADatasetWithoutWritersExitsTwo) {
  CliOutcome o = RunWithData("--set data.dataset=synthetic --set data.partition=natural");
  EXPECT_EQ(o.exit_code, 2) << o.output;
  EXPECT_THAT(o.output, HasSubstr("data.partition = \"natural\" needs"));
}

}  // namespace

namespace {

// IDX bytes of an unsigned-byte array; written plain (zlib reads a .gz name
// that holds plain bytes as they are).
std::string Idx(const std::vector<uint32_t>& dims, size_t body_bytes) {
  std::string out = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(d >> shift));
  }
  for (size_t i = 0; i < body_bytes; ++i) out.push_back(static_cast<char>(i % 10));
  return out;
}

}  // namespace

// `murmur peer` reads only its shard's image rows, streaming the file; a
// file cut inside a row is still the user's to fix: exit 2, naming the file
// and the row, before any network is set up.
TEST_F(DatasetCli, PeerOnAnImageFileCutInsideARowExitsTwoNamingTheRow) {
  Write("train-images-idx3-ubyte.gz", Idx({12, 2, 3}, 7 * 6 + 4));
  Write("train-labels-idx1-ubyte.gz", Idx({12}, 12));
  Write("t10k-images-idx3-ubyte.gz", Idx({2, 2, 3}, 2 * 6));
  Write("t10k-labels-idx1-ubyte.gz", Idx({2}, 2));
  Write("run.toml", "peers = 2\n[data]\ndataset = \"fashion-mnist\"\npath = \"" + dir_ + "\"\n");
  CliOutcome peer = RunMurmur("peer " + dir_ + "/run.toml --insecure --quiet --index 1 --key " +
                              dir_ + "/peer.key");
  EXPECT_EQ(peer.exit_code, 2) << peer.output;
  EXPECT_THAT(peer.output, HasSubstr(dir_ + "/train-images-idx3-ubyte.gz': the file ends inside "
                                            "image row 7 of 12 (4 of its 6 bytes present)"));
}
