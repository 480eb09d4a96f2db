// A labelled dataset from a NumPy .npz archive (numpy.savez or
// numpy.savez_compressed), for bringing your own data:
//
//   numpy.savez("data.npz", x_train=..., y_train=..., x_test=..., y_test=...,
//               writer_train=...)   # writer_train optional
//
// x_train [n, ...] and x_test [m, ...] hold the features, float32, float64
// or uint8 (uint8 is scaled to [0, 1] by /255; floats are taken as they are,
// and must be finite). A sample's shape (everything after the first axis)
// becomes the model input: () or (d,) is 1 x 1 x d, (h, w) is 1 x h x w,
// (c, h, w) is c x h x w (channels first, as PyTorch; transpose NHWC arrays
// before saving). y_train [n] and y_test [m] are class ids of any integer
// dtype in [0, 2^20); the dataset has max(label) + 1 classes. writer_train
// [n], any integer dtype, names each training sample's owner (for
// data.partition = "natural"); the distinct ids become dense writer ids in
// ascending order.
#pragma once

#include <string>

#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"

namespace murmur {

// Loads `path`. kNotFound naming the path when it is missing, or naming the
// archive and the member when a required array is absent; kCorrupt or
// kInvalidArgument naming the archive, the array and what is wrong for a
// damaged archive, a damaged or unsupported .npy member (dtype, fortran
// order), mismatched lengths or sample shapes, a negative or huge label, a
// non-finite feature.
Result<TrainTestSplit> LoadNpz(const std::string& path);

}  // namespace murmur
