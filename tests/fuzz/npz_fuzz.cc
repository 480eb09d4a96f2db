// Fuzz target: the .npz dataset reader (zip container through minizip, .npy
// members, dtype conversion). The input is written to a file, as the reader
// reads paths. Must never crash nor allocate beyond what the file's length
// allows (ASan's allocation limit catches a trusted size field); an accepted
// dataset must be consistent: features fill its samples, labels lie in
// [0, num_classes), writers in [0, num_writers).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_seeds.h"
#include "murmur/learn/npz_dataset.h"
#include "testing/zip_writer.h"

namespace {

void CheckSplit(const murmur::Dataset& d) {
  if (d.features.size() != static_cast<size_t>(d.size() * d.sample_dim())) std::abort();
  for (int64_t l : d.labels) {
    if (l < 0 || l >= d.num_classes) std::abort();
  }
  for (int64_t w : d.writers) {
    if (w < 0 || w >= d.num_writers) std::abort();
  }
}

// The input's file, one per process, removed at exit.
struct InputFile {
  std::string path = "/tmp/murmur_npz_fuzz_" + std::to_string(getpid()) + ".npz";
  ~InputFile() { std::remove(path.c_str()); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const InputFile file;
  const std::string& path = file.path;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  murmur::Result<murmur::TrainTestSplit> split = murmur::LoadNpz(path);
  if (split.ok()) {
    CheckSplit(split->train);
    CheckSplit(split->test);
  }
  return 0;
}

std::vector<murmur::fuzz::Seed> murmur::fuzz::FuzzSeeds() {
  using murmur::testing::NpyBytes;
  using murmur::testing::RawBytes;
  using murmur::testing::ZipWriter;
  std::vector<murmur::fuzz::Seed> seeds;
  for (ZipWriter::Method method : {ZipWriter::Method::kStored, ZipWriter::Method::kDeflated}) {
    ZipWriter zip;
    zip.Add("x_train.npy", NpyBytes("|u1", {2, 2}, {0, 255, 7, 9}), method);
    zip.Add("y_train.npy", NpyBytes("<i8", {2}, RawBytes(std::vector<int64_t>{1, 0})), method);
    zip.Add("x_test.npy", NpyBytes("<f4", {1, 2}, RawBytes(std::vector<float>{0.5f, 1})), method);
    zip.Add("y_test.npy", NpyBytes("|i1", {1}, {2}), method);
    zip.Add("writer_train.npy", NpyBytes("<u2", {2}, RawBytes(std::vector<uint16_t>{9, 3})),
            method);
    seeds.push_back(zip.Bytes());
  }
  return seeds;
}
