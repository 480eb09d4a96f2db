// CIFAR-10 (Krizhevsky, 2009, "Learning Multiple Layers of Features from Tiny
// Images"), binary version: https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
// unpacks to cifar-10-batches-bin/ with data_batch_1.bin .. data_batch_5.bin
// (training) and test_batch.bin, each a sequence of 3073-byte records: the
// label (0..9), then 1024 red, 1024 green and 1024 blue pixel bytes of a
// 32x32 image, row-major. Samples are 3 x 32 x 32 (channels first): pixels
// are scaled to [0, 1] and standardized per channel with the training set's
// mean (0.4914, 0.4822, 0.4465) and std (0.2470, 0.2435, 0.2616).
// model.kind = "cnn" (LeNet-5 with 3 input channels), "mlp" and "logreg"
// (on the flattened 3072 values) fit it. No writer: partition it with iid,
// dirichlet or shards.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"

namespace murmur {

inline constexpr int64_t kCifar10RecordBytes = 3073;

// Appends the records of one batch file's bytes to `out` (3 x 32 x 32, 10
// classes). kCorrupt when the size is not a positive multiple of 3073 or a
// label is not in [0, 10).
Status ParseCifar10Batch(std::span<const uint8_t> bytes, Dataset& out);

// Loads the six files from `dir`. kNotFound listing the expected files and
// where to get them when one is missing; kCorrupt naming the file otherwise.
Result<TrainTestSplit> LoadCifar10(const std::string& dir);

}  // namespace murmur
