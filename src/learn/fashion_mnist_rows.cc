#include "murmur/learn/fashion_mnist_rows.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace murmur {
namespace {

constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;
constexpr uint8_t kIdxUnsignedByte = 0x08;

struct SplitFiles {
  std::string images;
  std::string labels;
};

SplitFiles FilesOf(const std::string& dir, FashionMnistSplit split) {
  const char* prefix = split == FashionMnistSplit::kTrain ? "train" : "t10k";
  const std::filesystem::path d(dir);
  return {(d / (std::string(prefix) + "-images-idx3-ubyte.gz")).string(),
          (d / (std::string(prefix) + "-labels-idx1-ubyte.gz")).string()};
}

// An open gzip (or plain) file, closed on every path out.
class GzReader {
 public:
  explicit GzReader(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (file_ != nullptr) gzbuffer(file_, 1 << 17);
  }
  ~GzReader() {
    if (file_ != nullptr) gzclose_r(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  Status Opened() const {
    if (file_ != nullptr) return Status::Ok();
    if (errno == ENOENT) return FashionMnistMissing(path_);
    return Status::Unavailable("cannot open '", path_, "': ", std::strerror(errno));
  }
  // Reads up to `n` bytes; fewer only at the end of the data. kCorrupt when
  // the gzip stream is damaged.
  Result<size_t> Read(uint8_t* out, size_t n) {
    size_t got = 0;
    while (got < n) {
      const int r = gzread(file_, out + got, static_cast<unsigned>(n - got));
      if (r < 0) return Damaged();
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  }
  // Closes the file; kCorrupt when the stream was cut off or its checksum
  // does not match.
  Status Close() {
    const int rc = gzclose_r(file_);
    file_ = nullptr;
    if (rc == Z_OK) return Status::Ok();
    return Status::Corrupt("gzip file '", path_, "' is damaged: stream ends early (zlib error ",
                           rc, ")");
  }

 private:
  Status Damaged() {
    int errnum = 0;
    return Status::Corrupt("gzip file '", path_, "' is damaged: ", gzerror(file_, &errnum));
  }

  std::string path_;
  gzFile file_;
};

// Reads an IDX header of unsigned bytes with `ndims` dimensions.
Result<std::vector<int64_t>> ReadIdxHeader(GzReader& in, const std::string& path, int ndims) {
  uint8_t head[4 + 4 * 3];
  const size_t size = 4 + 4 * static_cast<size_t>(ndims);
  MURMUR_ASSIGN_OR_RETURN(size_t got, in.Read(head, size));
  if (got < size) {
    return Status::Corrupt("'", path, "': IDX: truncated header: ", got, " bytes, need ", size);
  }
  if (head[0] != 0 || head[1] != 0 || head[2] != kIdxUnsignedByte || head[3] != ndims) {
    return Status::Corrupt("'", path, "': IDX: expected an unsigned-byte array of ", ndims,
                           " dimensions; the header's first bytes are ", int{head[0]}, ",",
                           int{head[1]}, ",", int{head[2]}, ",", int{head[3]});
  }
  std::vector<int64_t> dims;
  for (int i = 0; i < ndims; ++i) {
    const uint8_t* p = head + 4 + 4 * i;
    dims.push_back((int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | p[3]);
  }
  return dims;
}

}  // namespace

std::array<float, 256> FashionMnistPixelValues() {
  std::array<float, 256> values;
  for (int v = 0; v < 256; ++v) {
    values[v] = (static_cast<float>(v) / 255.0f - kFashionMnistMean) / kFashionMnistStd;
  }
  return values;
}

Status FashionMnistMissing(const std::string& path) {
  return Status::NotFound(
      "Fashion-MNIST file '", path,
      "' not found; install it with: apt-get install dataset-fashion-mnist "
      "(or run scripts/install_deps.sh), or set data.dataset = \"synthetic\"");
}

Result<Dataset> LoadFashionMnistLabels(const std::string& dir, FashionMnistSplit split) {
  const SplitFiles files = FilesOf(dir, split);
  for (const std::string* path : {&files.images, &files.labels}) {
    std::error_code ec;
    if (!std::filesystem::exists(*path, ec)) return FashionMnistMissing(*path);
  }
  MURMUR_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadGzipFile(files.labels));
  Result<IdxArray> labels = ParseIdx(bytes);
  if (!labels.ok()) {
    return Status(labels.status().code(),
                  Status::Concat("'", files.labels, "': ", labels.status().message()));
  }
  if (labels->dims.size() != 1) {
    return Status::Corrupt("'", files.labels, "': expected 1 dimension, got ",
                           labels->dims.size());
  }
  GzReader images(files.images);
  MURMUR_RETURN_IF_ERROR(images.Opened());
  MURMUR_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ReadIdxHeader(images, files.images, 3));
  if (dims[0] != labels->dims[0]) {
    return Status::Corrupt("'", files.images, "' holds ", dims[0], " images but '", files.labels,
                           "' holds ", labels->dims[0], " labels");
  }
  Dataset d;
  d.name = "fashion-mnist";
  d.channels = 1;
  d.height = dims[1];
  d.width = dims[2];
  d.num_classes = 10;
  d.labels.reserve(labels->data.size());
  for (size_t i = 0; i < labels->data.size(); ++i) {
    if (labels->data[i] >= d.num_classes) {
      return Status::Corrupt("'", files.labels, "': label ", int{labels->data[i]}, " at index ",
                             i, " is not in [0, 10)");
    }
    d.labels.push_back(labels->data[i]);
  }
  return d;
}

Status LoadFashionMnistRows(const std::string& dir, FashionMnistSplit split,
                            std::span<const int64_t> rows, Dataset& labels) {
  for (size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] < 0 || rows[k] >= labels.size() || (k > 0 && rows[k] <= rows[k - 1])) {
      return Status::InvalidArgument("Fashion-MNIST rows: row ", rows[k], " at position ", k,
                                     " is not ascending within [0, ", labels.size(), ")");
    }
  }
  const std::string path = FilesOf(dir, split).images;
  GzReader in(path);
  MURMUR_RETURN_IF_ERROR(in.Opened());
  MURMUR_ASSIGN_OR_RETURN(std::vector<int64_t> dims, ReadIdxHeader(in, path, 3));
  if (dims[0] != labels.size() || dims[1] != labels.height || dims[2] != labels.width) {
    return Status::Corrupt("'", path, "' changed since its labels were read: it holds ", dims[0],
                           " images of ", dims[1], "x", dims[2]);
  }
  const auto dim = static_cast<size_t>(labels.sample_dim());
  std::vector<uint8_t> pixels(rows.size() * dim);
  std::vector<uint8_t> skipped(dim);
  size_t next = 0;  // the next entry of `rows` to keep
  for (int64_t r = 0; r < labels.size(); ++r) {
    const bool keep = next < rows.size() && rows[next] == r;
    uint8_t* out = keep ? pixels.data() + next * dim : skipped.data();
    MURMUR_ASSIGN_OR_RETURN(size_t got, in.Read(out, dim));
    if (got < dim) {
      return Status::Corrupt("'", path, "': the file ends inside image row ", r, " of ",
                             labels.size(), " (", got, " of its ", dim,
                             " bytes present); it is cut short: reinstall it");
    }
    next += keep ? 1 : 0;
  }
  uint8_t extra = 0;
  MURMUR_ASSIGN_OR_RETURN(size_t trailing, in.Read(&extra, 1));
  if (trailing > 0) {
    return Status::Corrupt("'", path, "': IDX: trailing bytes after the last of ", labels.size(),
                           " image rows");
  }
  MURMUR_RETURN_IF_ERROR(in.Close());
  std::vector<int64_t> kept;
  kept.reserve(rows.size());
  for (int64_t r : rows) kept.push_back(labels.labels[r]);
  labels.labels = std::move(kept);
  labels.features.clear();
  labels.pixels = std::move(pixels);
  labels.pixel_values = FashionMnistPixelValues();
  return Status::Ok();
}

}  // namespace murmur
