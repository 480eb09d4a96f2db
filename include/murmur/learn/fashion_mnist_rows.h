// Reading part of Fashion-MNIST (see dataset.h), for a network peer that
// trains on its own shard only: the labels of a split first (60 KB for the
// training set), then just the image rows a shard names, streamed from the
// gzipped IDX file one row at a time and kept as bytes (Dataset::pixels).
// The values a peer trains on are the floats LoadFashionMnist would give.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"

namespace murmur {

enum class FashionMnistSplit { kTrain, kTest };

// The normalized value of each pixel byte: (v / 255 - 0.2860) / 0.3530,
// the training set's mean and std.
std::array<float, 256> FashionMnistPixelValues();

// kNotFound naming `path`, with the hint to install dataset-fashion-mnist.
Status FashionMnistMissing(const std::string& path);

// The split's labels, shape and classes from `dir`, with no samples'
// values: size() is the split's size, features and pixels are empty. Reads
// the labels file and the image file's header. kNotFound for a missing
// file (LoadFashionMnist's message); kCorrupt naming the file for a bad
// header, a label outside [0, 10) or counts that differ.
Result<Dataset> LoadFashionMnistLabels(const std::string& dir, FashionMnistSplit split);

// Keeps only rows `rows` of `labels` (LoadFashionMnistLabels' answer for
// the same dir and split), in that order, and reads their pixels from the
// image file into `labels.pixels` (pixel_values set). The whole file is
// streamed, so a file cut short or with bytes after its last row is
// rejected as by LoadFashionMnist: kCorrupt naming the file and the row it
// ends in. kInvalidArgument unless `rows` is strictly ascending within
// [0, labels.size()).
Status LoadFashionMnistRows(const std::string& dir, FashionMnistSplit split,
                            std::span<const int64_t> rows, Dataset& labels);

}  // namespace murmur
