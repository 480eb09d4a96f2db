#include "murmur/learn/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "murmur/core/rng.h"
#include "murmur/core/thread_pool.h"
#include "murmur/learn/fashion_mnist_rows.h"

namespace murmur {
namespace {

constexpr uint8_t kIdxUnsignedByte = 0x08;
// Real IDX files have 1 to 4 dimensions; anything beyond this is garbage.
constexpr int kMaxIdxDims = 16;

uint32_t ReadBigEndianU32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) |
         (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

// Reads and parses one gzipped IDX file, naming `path` in every error.
Result<IdxArray> LoadIdxFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return FashionMnistMissing(path);
  }
  MURMUR_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadGzipFile(path));
  Result<IdxArray> idx = ParseIdx(bytes);
  if (!idx.ok()) {
    return Status(idx.status().code(),
                  Status::Concat("'", path, "': ", idx.status().message()));
  }
  return idx;
}

// Builds one split from an images array [n, h, w] and a labels array [n].
Result<Dataset> MakeFashionMnistSplit(const IdxArray& images,
                                      const IdxArray& labels,
                                      const std::string& images_path,
                                      const std::string& labels_path) {
  if (images.dims.size() != 3) {
    return Status::Corrupt("'", images_path, "': expected 3 dimensions, got ",
                           images.dims.size());
  }
  if (labels.dims.size() != 1) {
    return Status::Corrupt("'", labels_path, "': expected 1 dimension, got ",
                           labels.dims.size());
  }
  if (images.dims[0] != labels.dims[0]) {
    return Status::Corrupt("'", images_path, "' holds ", images.dims[0],
                           " images but '", labels_path, "' holds ",
                           labels.dims[0], " labels");
  }
  Dataset d;
  d.name = "fashion-mnist";
  d.channels = 1;
  d.height = images.dims[1];
  d.width = images.dims[2];
  d.num_classes = 10;
  d.labels.resize(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= d.num_classes) {
      return Status::Corrupt("'", labels_path, "': label ",
                             static_cast<int>(labels.data[i]), " at index ", i,
                             " is not in [0, 10)");
    }
    d.labels[i] = labels.data[i];
  }
  const std::array<float, 256> lut = FashionMnistPixelValues();
  d.features.resize(images.data.size());
  for (size_t i = 0; i < images.data.size(); ++i) {
    d.features[i] = lut[images.data[i]];
  }
  return d;
}

}  // namespace

bool Dataset::HoldsEverySample() const {
  const auto expected = static_cast<size_t>(size() * sample_dim());
  return stored_as_bytes() ? pixels.size() == expected : features.size() == expected;
}

void Dataset::CopySample(int64_t i, float* out) const {
  const int64_t dim = sample_dim();
  if (!stored_as_bytes()) {
    std::memcpy(out, features.data() + i * dim, static_cast<size_t>(dim) * sizeof(float));
    return;
  }
  const uint8_t* p = pixels.data() + i * dim;
  for (int64_t j = 0; j < dim; ++j) out[j] = pixel_values[p[j]];
}

Dataset SelectRows(const Dataset& data, std::span<const int64_t> rows) {
  Dataset out;
  out.name = data.name;
  out.channels = data.channels;
  out.height = data.height;
  out.width = data.width;
  out.num_classes = data.num_classes;
  out.num_writers = data.num_writers;
  out.pixel_values = data.pixel_values;
  const auto dim = static_cast<size_t>(data.sample_dim());
  const bool bytes = data.stored_as_bytes();
  if (bytes) {
    out.pixels.reserve(rows.size() * dim);
  } else {
    out.features.reserve(rows.size() * dim);
  }
  out.labels.reserve(rows.size());
  for (int64_t r : rows) {
    MURMUR_CHECK(r >= 0 && r < data.size());
    const auto at = static_cast<size_t>(r) * dim;
    if (bytes) {
      out.pixels.insert(out.pixels.end(), data.pixels.begin() + at, data.pixels.begin() + at + dim);
    } else if (!data.features.empty()) {
      out.features.insert(out.features.end(), data.features.begin() + at,
                          data.features.begin() + at + dim);
    }
    out.labels.push_back(data.labels[r]);
    if (!data.writers.empty()) out.writers.push_back(data.writers[r]);
  }
  return out;
}

Result<IdxArray> ParseIdx(std::span<const uint8_t> bytes) {
  if (bytes.size() < 4) {
    return Status::Corrupt("IDX: truncated header: ", bytes.size(),
                           " bytes, need at least 4 for the magic");
  }
  if (bytes[0] != 0 || bytes[1] != 0) {
    return Status::Corrupt("IDX: bad magic: first two bytes are ",
                           static_cast<int>(bytes[0]), ",",
                           static_cast<int>(bytes[1]), ", expected 0,0");
  }
  if (bytes[2] != kIdxUnsignedByte) {
    return Status::Corrupt("IDX: unsupported element type 0x", std::hex,
                           static_cast<int>(bytes[2]),
                           ", only unsigned byte (0x08) is supported");
  }
  const int ndims = bytes[3];
  if (ndims == 0 || ndims > kMaxIdxDims) {
    return Status::Corrupt("IDX: unsupported number of dimensions ", ndims,
                           " (expected 1 to ", kMaxIdxDims, ")");
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (bytes.size() < header) {
    return Status::Corrupt("IDX: truncated header: ", bytes.size(),
                           " bytes, need ", header, " for ", ndims,
                           " dimensions");
  }
  IdxArray out;
  out.dims.reserve(ndims);
  uint64_t elements = 1;
  bool overflow = false;
  for (int i = 0; i < ndims; ++i) {
    uint32_t dim = ReadBigEndianU32(bytes.data() + 4 + 4 * i);
    out.dims.push_back(dim);
    overflow = overflow || __builtin_mul_overflow(elements, dim, &elements);
  }
  const size_t body = bytes.size() - header;
  if (overflow || elements > body) {
    std::string shape;
    for (int64_t d : out.dims) {
      if (!shape.empty()) shape.push_back('x');
      shape.append(std::to_string(d));
    }
    return Status::Corrupt("IDX: truncated body: dims ", shape, " need ",
                           overflow ? "more than 2^64" : std::to_string(elements),
                           " bytes, only ", body, " present");
  }
  if (elements < body) {
    return Status::Corrupt("IDX: ", body - elements,
                           " trailing bytes after the ", elements,
                           "-byte body");
  }
  out.data.assign(bytes.begin() + header, bytes.end());
  return out;
}

Result<std::vector<uint8_t>> ReadGzipFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound("file '", path, "' not found");
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    if (errno == ENOENT) return Status::NotFound("file '", path, "' not found");
    return Status::Unavailable("cannot open '", path,
                               "': ", std::strerror(errno));
  }
  gzbuffer(file, 1 << 17);
  std::vector<uint8_t> out;
  constexpr size_t kChunk = 1 << 20;
  while (true) {
    size_t old = out.size();
    out.resize(old + kChunk);
    int n = gzread(file, out.data() + old, kChunk);
    if (n < 0) {
      int errnum = 0;
      std::string message = gzerror(file, &errnum);
      gzclose_r(file);
      return Status::Corrupt("gzip file '", path, "' is damaged: ", message);
    }
    out.resize(old + static_cast<size_t>(n));
    if (n == 0) break;
  }
  // gzclose_r reports a stream cut off in the middle (Z_BUF_ERROR).
  int rc = gzclose_r(file);
  if (rc != Z_OK) {
    return Status::Corrupt("gzip file '", path,
                           "' is damaged: stream ends early (zlib error ", rc,
                           ")");
  }
  return out;
}

Result<TrainTestSplit> LoadFashionMnist(const std::string& dir) {
  const std::string names[4] = {
      "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
      "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
  std::string paths[4];
  for (int i = 0; i < 4; ++i) {
    paths[i] = (std::filesystem::path(dir) / names[i]).string();
  }
  // Report a missing file before spending time decompressing the others.
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return FashionMnistMissing(path);
    }
  }
  IdxArray arrays[4];
  for (int i = 0; i < 4; ++i) {
    MURMUR_ASSIGN_OR_RETURN(arrays[i], LoadIdxFile(paths[i]));
  }
  TrainTestSplit split;
  MURMUR_ASSIGN_OR_RETURN(
      split.train,
      MakeFashionMnistSplit(arrays[0], arrays[1], paths[0], paths[1]));
  MURMUR_ASSIGN_OR_RETURN(
      split.test,
      MakeFashionMnistSplit(arrays[2], arrays[3], paths[2], paths[3]));
  if (split.train.height != split.test.height ||
      split.train.width != split.test.width) {
    return Status::Corrupt("Fashion-MNIST in '", dir, "': train images are ",
                           split.train.height, "x", split.train.width,
                           " but test images are ", split.test.height, "x",
                           split.test.width);
  }
  return split;
}

namespace {

// Stream steps under RngPurpose::kSynthetic: separate streams keep the test
// set identical when only train_size changes.
constexpr uint64_t kSyntheticMeansStep = 0;
constexpr uint64_t kSyntheticTrainStep = 1;
constexpr uint64_t kSyntheticTestStep = 2;

// Per-pixel std of the class means. For 28x28 images and unit noise two
// class means are ~8 noise stds apart (sqrt(2 * 784) * 0.2), so the Bayes
// error is ~1e-4 per pair, yet each sample's noise (norm ~28) dwarfs its
// class mean (norm ~6): a model must average over many samples to learn.
// Logistic regression with SGD (lr 0.05, batch 32) passes 95% test accuracy
// within 50 steps.
constexpr double kClassMeanScale = 0.2;

// Samples [begin, end) of a split whose stream `rng` is at sample 0. Sample
// i's label takes 2 words of the stream (UniformInt, unless it rejects: a
// chance of ~1e-18) and its pixels 4 each (Normal), so sample i starts at
// word i * (2 + 4 * dim) of the stream when no label before it rejected.
// Returns false if a label of the range rejected (the stream then drifts).
bool FillSyntheticSamples(const SyntheticOptions& o, const std::vector<float>& means, Rng rng,
                          int64_t begin, int64_t end, Dataset& d) {
  const int64_t dim = d.sample_dim();
  const auto words = static_cast<uint64_t>(2 + 4 * dim);
  rng.Discard(static_cast<uint64_t>(begin) * words);
  bool exact = true;
  std::vector<double> noise(static_cast<size_t>(dim));
  for (int64_t i = begin; i < end; ++i) {
    const uint64_t at = rng.position();
    int64_t label = static_cast<int64_t>(rng.UniformInt(o.num_classes));
    exact = exact && rng.position() == at + 2;
    d.labels[i] = label;
    const float* mean = means.data() + label * dim;
    float* x = d.features.data() + i * dim;
    rng.Normals(noise);
    for (int64_t j = 0; j < dim; ++j) {
      x[j] = mean[j] + static_cast<float>(o.noise * noise[j]);
    }
  }
  return exact;
}

Dataset MakeSyntheticSplit(const SyntheticOptions& o,
                           const std::vector<float>& means, int64_t size,
                           Rng rng, const char* name) {
  Dataset d;
  d.name = name;
  d.channels = 1;
  d.height = o.height;
  d.width = o.width;
  d.num_classes = o.num_classes;
  d.labels.resize(size);
  d.features.resize(size * d.sample_dim());
  // Ranges in parallel, each from its own place in the one stream: the
  // same bytes as one sequential pass (which reruns if a label rejected).
  constexpr int64_t kChunk = 1024;
  const int64_t chunks = (size + kChunk - 1) / kChunk;
  if (o.threads > 1 && chunks > 1) {
    std::vector<char> exact(static_cast<size_t>(chunks), 0);
    ThreadPool pool(static_cast<int>(std::min<int64_t>(o.threads, chunks)));
    pool.ParallelFor(static_cast<size_t>(chunks), [&](size_t c) {
      const auto begin = static_cast<int64_t>(c) * kChunk;
      exact[c] = FillSyntheticSamples(o, means, rng, begin, std::min(size, begin + kChunk), d);
    });
    if (std::all_of(exact.begin(), exact.end(), [](char e) { return e != 0; })) return d;
  }
  FillSyntheticSamples(o, means, rng, 0, size, d);
  return d;
}

}  // namespace

TrainTestSplit MakeSyntheticDataset(const SyntheticOptions& options) {
  MURMUR_CHECK(options.num_classes >= 1);
  MURMUR_CHECK(options.height >= 1 && options.width >= 1);
  MURMUR_CHECK(options.train_size >= 0 && options.test_size >= 0);
  MURMUR_CHECK(options.noise >= 0);
  const int64_t dim = options.height * options.width;
  std::vector<float> means(options.num_classes * dim);
  Rng mean_rng = Rng::ForStep(options.seed, PeerId{0}, RngPurpose::kSynthetic,
                              kSyntheticMeansStep);
  for (float& m : means) {
    m = static_cast<float>(kClassMeanScale * mean_rng.Normal());
  }
  TrainTestSplit split;
  split.train = MakeSyntheticSplit(
      options, means, options.train_size,
      Rng::ForStep(options.seed, PeerId{0}, RngPurpose::kSynthetic,
                   kSyntheticTrainStep),
      "synthetic");
  split.test = MakeSyntheticSplit(
      options, means, options.test_size,
      Rng::ForStep(options.seed, PeerId{0}, RngPurpose::kSynthetic,
                   kSyntheticTestStep),
      "synthetic");
  return split;
}

}  // namespace murmur
