// A character-level language-modelling dataset from plain text, e.g. the
// fortune cookies of Debian's `fortunes` package (/usr/share/games/fortunes).
// The text is cut into fixed-length chunks; every character of a chunk is one
// sample whose features are the ids of the `context` characters before it in
// the same chunk (left-padded with the newline id) and whose label is its own
// id. Samples therefore fit the image-shaped Dataset as 1 x 1 x context
// "pixels" with kCharVocabSize classes, so partitioning, Learner and
// Evaluate work unchanged and the test loss is in nats per character.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"

namespace murmur {

inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";

// Fixed vocabulary, independent of the corpus so that a model trained on one
// text fine-tunes on another: 0 = newline, 1..95 = printable ASCII 32..126,
// 96 = any other byte (tabs count as spaces).
inline constexpr int64_t kCharVocabSize = 97;
int64_t CharId(uint8_t c);

// How the text becomes samples.
//  * kEveryCharacter: every character of a chunk is a sample (the char MLP).
//  * kWindows: the text is cut into consecutive windows of context + 1
//    characters (seq_len does not apply); each is one sample whose features
//    are its first `context` characters and whose label is its last. A
//    sequence model predicts every one of them from the characters before
//    (the transformer: learn/transformer_model.h); no padding is ever seen.
enum class TextSamples { kEveryCharacter, kWindows };

struct CharCorpusOptions {
  int64_t context = 16;     // characters the model sees before the target
  int64_t seq_len = 128;    // chunk length: contexts never cross chunks
  int64_t test_every = 10;  // every test_every-th chunk is a test chunk
  TextSamples samples = TextSamples::kEveryCharacter;
};

// Removes the `%` lines that separate fortunes (strfile format).
std::string StripFortuneSeparators(std::string_view text);

// REQUIRES: options' fields >= 1 (test_every >= 2). Chunks k with
// k % test_every == test_every - 1 form the test set, the rest the
// training set (with kWindows each window is a chunk, and a final window
// shorter than context + 1 characters is dropped).
TrainTestSplit MakeCharDataset(std::string_view text, const CharCorpusOptions& options);

// Loads and concatenates fortune files. `paths` is a comma-separated list of
// files or directories (a directory contributes its regular files, in name
// order, skipping strfile's .dat indexes and .u8 links). kNotFound names a
// missing path and says to install the `fortunes` package; kInvalidArgument
// when the text yields no training or no test chunk (for kWindows: fewer
// than test_every windows of context + 1 characters).
Result<TrainTestSplit> LoadFortunes(const std::string& paths, const CharCorpusOptions& options);

}  // namespace murmur
