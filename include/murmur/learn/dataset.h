// In-memory labelled image datasets: Fashion-MNIST from Debian's
// dataset-fashion-mnist IDX files (Xiao, Rasul, Vollgraf, 2017,
// "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
// Algorithms"), and a seeded synthetic dataset for fast tests. In the
// simulator one copy is shared read-only by all peers, which hold only index
// shards into it; a network peer holds only its shard's rows
// (experiment/peer_data.h, learn/fashion_mnist_rows.h).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

inline constexpr const char* kFashionMnistDir =
    "/usr/share/datasets/fashion-mnist";

// Samples stored row-major as float features [size, channels, height, width]
// (already normalized) and integer labels in [0, num_classes). An image set
// read for one network peer (LoadFashionMnistRows) keeps its pixels as bytes
// instead, a quarter of the floats' memory: `features` is then empty and
// sample values are pixel_values[pixels[k]], the same floats the float
// storage would hold. Read samples through CopySample, which serves both.
// Immutable after loading; safe to read from many threads.
struct Dataset {
  std::string name;
  int64_t channels = 1;
  int64_t height = 0;
  int64_t width = 0;
  int64_t num_classes = 0;
  std::vector<float> features;
  std::vector<int64_t> labels;
  // Who wrote each sample (LEAF's user, an .npz's writer_train) as dense ids
  // in [0, num_writers), every id used; empty (and num_writers 0) when the
  // dataset records no owner. data.partition = "natural" splits by it.
  std::vector<int64_t> writers;
  int64_t num_writers = 0;
  // Byte storage (see above): size() * sample_dim() bytes when used.
  std::vector<uint8_t> pixels;
  std::array<float, 256> pixel_values{};

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t sample_dim() const { return channels * height * width; }
  bool stored_as_bytes() const { return features.empty() && !pixels.empty(); }
  // Whether the storage holds exactly size() * sample_dim() values.
  bool HoldsEverySample() const;
  // Writes sample i's sample_dim() feature values to `out`.
  // REQUIRES: 0 <= i < size(), HoldsEverySample().
  void CopySample(int64_t i, float* out) const;
};

// The rows `rows` of `data` (indices into it, any order, repeats allowed) as
// a dataset of their own, in that order, with the same storage kind, shape,
// classes and writers. REQUIRES: every row is in [0, data.size()).
Dataset SelectRows(const Dataset& data, std::span<const int64_t> rows);

struct TrainTestSplit {
  Dataset train;
  Dataset test;
};

// A decoded IDX array (LeCun's MNIST format): dims and raw unsigned bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Parses IDX bytes (already decompressed). Only the unsigned-byte type 0x08
// is accepted. Returns kCorrupt for a bad magic, unsupported type, a
// truncated header or body, or trailing bytes.
Result<IdxArray> ParseIdx(std::span<const uint8_t> bytes);

// Reads a whole .gz (or plain) file. kNotFound if missing, kCorrupt if the
// gzip stream is damaged.
Result<std::vector<uint8_t>> ReadGzipFile(const std::string& path);

// Loads the four Fashion-MNIST files (train-images-idx3-ubyte.gz, ...) from
// `dir`. Pixels are scaled to [0,1] then standardized with the training
// set's mean 0.2860 and std 0.3530. kNotFound names the missing file and
// says to install dataset-fashion-mnist; kCorrupt on damaged files.
Result<TrainTestSplit> LoadFashionMnist(const std::string& dir);

struct SyntheticOptions {
  int64_t train_size = 2000;
  int64_t test_size = 500;
  int64_t num_classes = 10;
  int64_t height = 28;  // samples are 1 x height x width images
  int64_t width = 28;
  double noise = 1.0;   // std of the per-pixel Gaussian noise
  uint64_t seed = 1;
  int threads = 1;      // generating threads; the bytes do not depend on it
};

// Gaussian class clusters: each class has a random mean image; a sample is
// its class mean plus noise. Linearly separable enough that logistic
// regression learns it to high accuracy in a few hundred steps.
TrainTestSplit MakeSyntheticDataset(const SyntheticOptions& options);

}  // namespace murmur
