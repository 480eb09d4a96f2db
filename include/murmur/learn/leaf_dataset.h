// LEAF's federated datasets (Caldas et al., 2018, "LEAF: A Benchmark for
// Federated Settings"; https://github.com/TalwalkarLab/leaf) in the JSON
// layout LEAF's preprocess.sh writes: `dir`/train/*.json and
// `dir`/test/*.json, each file an object
//
//   {"users": ["f0000_14", ...], "num_samples": [17, ...],
//    "user_data": {"f0000_14": {"x": [...], "y": [...]}, ...}}
//
// Files are read in name order, users in the order each file lists them.
// A sample's x is one of
//  * a list of numbers (FEMNIST: 784 pixels in [0, 1]): features as they
//    are; a perfect square d = s * s becomes a 1 x s x s image (FEMNIST is
//    1 x 28 x 28, so the LeNet CNN fits), any other d is 1 x 1 x d;
//  * a string (Shakespeare: the 80 characters before the target): the
//    characters' ids (text_dataset.h's CharId) as 1 x 1 x L, L the longest
//    training string, shorter strings left-padded with the newline id and
//    longer test strings cut to their last L characters; model.kind =
//    "charmlp" reads it;
//  * a list whose last element is a string (Sent140: [id, date, query,
//    user, text]): that text, as for a string.
// y is an integer class id in [0, 2^20) (the dataset has max + 1 classes),
// or a one-character string (Shakespeare's next character: its CharId, and
// kCharVocabSize classes). Every training sample's writer is its user.
#pragma once

#include <string>

#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"

namespace murmur {

// Loads `dir`. kNotFound saying what was expected where when train/ or
// test/ is missing or holds no .json file; kCorrupt naming the file (and the
// user) for invalid JSON, missing keys, num_samples that disagree with the
// data, samples of mixed kinds or lengths, or labels out of range.
Result<TrainTestSplit> LoadLeaf(const std::string& dir);

}  // namespace murmur
