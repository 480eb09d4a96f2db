#include "murmur/learn/text_dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "murmur/core/check.h"

namespace murmur {
namespace {

Result<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read text file ", path.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The files a comma-separated list of files and directories names.
Result<std::vector<std::filesystem::path>> ListFiles(const std::string& paths) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  size_t start = 0;
  while (start <= paths.size()) {
    const size_t comma = std::min(paths.find(',', start), paths.size());
    const std::string item = paths.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) continue;
    std::error_code ec;
    if (fs::is_directory(item, ec)) {
      std::vector<fs::path> in_dir;
      for (const fs::directory_entry& e : fs::directory_iterator(item, ec)) {
        const std::string ext = e.path().extension().string();
        if (e.is_symlink() || !e.is_regular_file() || ext == ".dat" || ext == ".u8") continue;
        in_dir.push_back(e.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(item, ec)) {
      files.emplace_back(item);
    } else {
      return Status::NotFound("text corpus ", item,
                              " not found; install Debian's `fortunes` package "
                              "(apt-get install fortunes) or set data.path");
    }
  }
  if (files.empty()) {
    return Status::NotFound("data.path \"", paths, "\" names no text file");
  }
  return files;
}

}  // namespace

int64_t CharId(uint8_t c) {
  if (c == '\n') return 0;
  if (c == '\t') c = ' ';
  if (c >= 32 && c <= 126) return c - 31;
  return kCharVocabSize - 1;
}

std::string StripFortuneSeparators(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line != "%") {
      out.append(line);
      out.push_back('\n');
    }
    start = end + 1;
  }
  return out;
}

namespace {

// TextSamples::kWindows: window k holds characters [k (c + 1), (k + 1) (c + 1)).
void AddWindows(std::string_view text, const CharCorpusOptions& options, TrainTestSplit& split) {
  const int64_t span = options.context + 1;
  const int64_t windows = static_cast<int64_t>(text.size()) / span;
  for (int64_t k = 0; k < windows; ++k) {
    Dataset& d = k % options.test_every == options.test_every - 1 ? split.test : split.train;
    for (int64_t j = k * span; j < (k + 1) * span - 1; ++j) {
      d.features.push_back(static_cast<float>(CharId(static_cast<uint8_t>(text[j]))));
    }
    d.labels.push_back(CharId(static_cast<uint8_t>(text[(k + 1) * span - 1])));
  }
}

}  // namespace

TrainTestSplit MakeCharDataset(std::string_view text, const CharCorpusOptions& options) {
  MURMUR_CHECK(options.context >= 1 && options.seq_len >= 1 && options.test_every >= 2);
  TrainTestSplit split;
  for (Dataset* d : {&split.train, &split.test}) {
    d->name = "chars";
    d->channels = 1;
    d->height = 1;
    d->width = options.context;
    d->num_classes = kCharVocabSize;
  }
  split.train.name = "fortunes-train";
  split.test.name = "fortunes-test";
  if (options.samples == TextSamples::kWindows) {
    AddWindows(text, options, split);
    return split;
  }
  const auto n = static_cast<int64_t>(text.size());
  const int64_t ctx = options.context;
  int64_t chunk = 0;
  for (int64_t begin = 0; begin < n; begin += options.seq_len, ++chunk) {
    Dataset& d = chunk % options.test_every == options.test_every - 1 ? split.test : split.train;
    const int64_t end = std::min(n, begin + options.seq_len);
    for (int64_t t = begin; t < end; ++t) {
      for (int64_t j = t - ctx; j < t; ++j) {
        d.features.push_back(
            j < begin ? 0.0f : static_cast<float>(CharId(static_cast<uint8_t>(text[j]))));
      }
      d.labels.push_back(CharId(static_cast<uint8_t>(text[t])));
    }
  }
  return split;
}

Result<TrainTestSplit> LoadFortunes(const std::string& paths, const CharCorpusOptions& options) {
  MURMUR_ASSIGN_OR_RETURN(std::vector<std::filesystem::path> files, ListFiles(paths));
  std::string text;
  for (const auto& file : files) {
    MURMUR_ASSIGN_OR_RETURN(std::string raw, ReadText(file));
    text += StripFortuneSeparators(raw);
  }
  TrainTestSplit split = MakeCharDataset(text, options);
  if (options.samples == TextSamples::kWindows && split.test.size() == 0) {
    return Status::InvalidArgument(
        "text corpus \"", paths, "\" has ", text.size(), " characters: too few for ",
        options.test_every, " windows of model.context + 1 = ", options.context + 1,
        " characters (every data.test_every-th window is a test window); lower model.context or "
        "add text");
  }
  if (split.train.size() == 0 || split.test.size() == 0) {
    return Status::InvalidArgument("text corpus \"", paths, "\" has ", text.size(),
                                   " characters: too few for a training and a test chunk of "
                                   "data.seq_len = ", options.seq_len);
  }
  return split;
}

}  // namespace murmur
