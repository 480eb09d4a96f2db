#include "murmur/learn/npz_dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "learn/zip_archive.h"
#include "murmur/core/npy.h"

namespace murmur {
namespace {

// More classes than this is a corrupt label, not a task: the class count
// sizes per-class buffers everywhere downstream.
constexpr int64_t kMaxClasses = int64_t{1} << 20;

template <typename T>
T LoadLittleEndian(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));  // every supported host is little-endian
  return value;
}

// One member of the archive, its bytes kept alive for the view into them.
struct Member {
  std::string name;  // "x_train", ...
  std::vector<uint8_t> bytes;
  NpyView view;
};

Result<Member> ReadMember(ZipArchive& zip, const std::string& path, const std::string& name) {
  Member m;
  m.name = name;
  const std::string file = name + ".npy";
  if (!zip.Has(file)) {
    return Status::NotFound("'", path, "' has no array '", name, "' (member ", file,
                            "); an .npz dataset needs x_train, y_train, x_test and y_test: "
                            "numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)");
  }
  MURMUR_ASSIGN_OR_RETURN(m.bytes, zip.Read(file));
  Result<NpyView> view = ParseNpyView(m.bytes);
  if (!view.ok()) {
    return Status(view.status().code(),
                  Status::Concat("'", path, "', array '", name, "': ", view.status().message()));
  }
  m.view = std::move(*view);
  return m;
}

bool IsInteger(NpyDtype d) {
  return d != NpyDtype::kFloat32 && d != NpyDtype::kFloat64 && d != NpyDtype::kBool;
}

// Integer values of `m` as int64; uint64 values beyond int64 are rejected.
Result<std::vector<int64_t>> IntegerValues(const Member& m, const std::string& path) {
  if (!IsInteger(m.view.dtype)) {
    return Status::InvalidArgument("'", path, "', array '", m.name,
                                   "': must hold integers (any integer dtype), not floats or "
                                   "bools; convert with array.astype('int64')");
  }
  std::vector<int64_t> out(m.view.count);
  const uint8_t* p = m.view.data.data();
  const size_t step = m.view.item_size;
  for (size_t i = 0; i < out.size(); ++i, p += step) {
    switch (m.view.dtype) {
      case NpyDtype::kUint8: out[i] = *p; break;
      case NpyDtype::kInt8: out[i] = static_cast<int8_t>(*p); break;
      case NpyDtype::kUint16: out[i] = LoadLittleEndian<uint16_t>(p); break;
      case NpyDtype::kInt16: out[i] = LoadLittleEndian<int16_t>(p); break;
      case NpyDtype::kUint32: out[i] = LoadLittleEndian<uint32_t>(p); break;
      case NpyDtype::kInt32: out[i] = LoadLittleEndian<int32_t>(p); break;
      case NpyDtype::kInt64: out[i] = LoadLittleEndian<int64_t>(p); break;
      case NpyDtype::kUint64: {
        const uint64_t v = LoadLittleEndian<uint64_t>(p);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Status::InvalidArgument("'", path, "', array '", m.name, "': value ", v,
                                         " at index ", i, " does not fit in int64");
        }
        out[i] = static_cast<int64_t>(v);
        break;
      }
      default: break;
    }
  }
  return out;
}

// A 1-D array of `n` values (a column [n, 1] is accepted too).
Status CheckLength(const Member& m, const std::string& path, int64_t n) {
  const auto& s = m.view.shape;
  const bool column = s.size() == 2 && s[1] == 1;
  if ((s.size() != 1 && !column) || s[0] != n) {
    std::string shape;
    for (int64_t d : s) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    return Status::InvalidArgument("'", path, "', array '", m.name, "': shape (", shape,
                                   ") should be (", n, ",), one value per sample");
  }
  return Status::Ok();
}

// The features of `m` [n, ...] into d (shape and values).
Status FillFeatures(const Member& m, const std::string& path, Dataset& d) {
  const auto& s = m.view.shape;
  if (s.empty() || s.size() > 4) {
    return Status::InvalidArgument("'", path, "', array '", m.name, "': has ", s.size(),
                                   " dimensions; expected [samples] plus 0 to 3 sample "
                                   "dimensions ((d,), (h, w) or (c, h, w), channels first)");
  }
  d.channels = s.size() == 4 ? s[1] : 1;
  d.height = s.size() >= 3 ? s[s.size() - 2] : 1;
  d.width = s.size() >= 2 ? s.back() : 1;
  if (m.view.dtype != NpyDtype::kFloat32 && m.view.dtype != NpyDtype::kFloat64 &&
      m.view.dtype != NpyDtype::kUint8) {
    return Status::InvalidArgument("'", path, "', array '", m.name,
                                   "': features must be float32, float64 or uint8; convert "
                                   "with array.astype('float32')");
  }
  if (s[0] > 0 && d.sample_dim() == 0) {
    return Status::InvalidArgument("'", path, "', array '", m.name,
                                   "': samples have an empty shape");
  }
  d.features.resize(m.view.count);
  const uint8_t* p = m.view.data.data();
  for (size_t i = 0; i < m.view.count; ++i) {
    float v;
    if (m.view.dtype == NpyDtype::kUint8) {
      v = static_cast<float>(p[i]) / 255.0f;
    } else if (m.view.dtype == NpyDtype::kFloat32) {
      v = LoadLittleEndian<float>(p + 4 * i);
    } else {
      v = static_cast<float>(LoadLittleEndian<double>(p + 8 * i));
    }
    if (!std::isfinite(v)) {
      return Status::InvalidArgument("'", path, "', array '", m.name, "': value ", i,
                                     " is not finite (or overflows float32)");
    }
    d.features[i] = v;
  }
  return Status::Ok();
}

Status FillLabels(const Member& m, const std::string& path, int64_t n, Dataset& d) {
  MURMUR_RETURN_IF_ERROR(CheckLength(m, path, n));
  MURMUR_ASSIGN_OR_RETURN(d.labels, IntegerValues(m, path));
  for (size_t i = 0; i < d.labels.size(); ++i) {
    if (d.labels[i] < 0 || d.labels[i] >= kMaxClasses) {
      return Status::InvalidArgument("'", path, "', array '", m.name, "': label ", d.labels[i],
                                     " of sample ", i, " is not a class id in [0, ", kMaxClasses,
                                     ")");
    }
  }
  return Status::Ok();
}

// Dense writer ids: the distinct values of writer_train, ascending.
Status FillWriters(const Member& m, const std::string& path, Dataset& d) {
  MURMUR_RETURN_IF_ERROR(CheckLength(m, path, d.size()));
  MURMUR_ASSIGN_OR_RETURN(std::vector<int64_t> raw, IntegerValues(m, path));
  std::vector<int64_t> distinct = raw;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  d.num_writers = static_cast<int64_t>(distinct.size());
  d.writers.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    d.writers[i] = std::lower_bound(distinct.begin(), distinct.end(), raw[i]) - distinct.begin();
  }
  return Status::Ok();
}

}  // namespace

Result<TrainTestSplit> LoadNpz(const std::string& path) {
  Result<std::unique_ptr<ZipArchive>> zip = ZipArchive::Open(path);
  if (!zip.ok() && zip.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("npz dataset '", path,
                            "' not found; data.path must name a .npz file with x_train, "
                            "y_train, x_test, y_test (numpy.savez)");
  }
  MURMUR_RETURN_IF_ERROR(zip.status());
  TrainTestSplit split;
  Dataset* sets[2] = {&split.train, &split.test};
  const char* suffix[2] = {"_train", "_test"};
  for (int k = 0; k < 2; ++k) {
    Dataset& d = *sets[k];
    d.name = "npz";
    MURMUR_ASSIGN_OR_RETURN(Member x, ReadMember(**zip, path, std::string("x") + suffix[k]));
    MURMUR_RETURN_IF_ERROR(FillFeatures(x, path, d));
    x.bytes.clear();
    x.bytes.shrink_to_fit();
    MURMUR_ASSIGN_OR_RETURN(Member y, ReadMember(**zip, path, std::string("y") + suffix[k]));
    MURMUR_RETURN_IF_ERROR(FillLabels(y, path, x.view.shape[0], d));
  }
  const Dataset& tr = split.train;
  const Dataset& te = split.test;
  if (tr.channels != te.channels || tr.height != te.height || tr.width != te.width) {
    return Status::InvalidArgument("'", path, "': x_train samples are ", tr.channels, "x",
                                   tr.height, "x", tr.width, " but x_test samples are ",
                                   te.channels, "x", te.height, "x", te.width);
  }
  if (tr.size() == 0 || te.size() == 0) {
    return Status::InvalidArgument("'", path, "': ", tr.size() == 0 ? "x_train" : "x_test",
                                   " has no samples");
  }
  int64_t max_label = 0;
  for (int64_t l : tr.labels) max_label = std::max(max_label, l);
  for (int64_t l : te.labels) max_label = std::max(max_label, l);
  split.train.num_classes = split.test.num_classes = max_label + 1;
  if ((*zip)->Has("writer_train.npy")) {
    MURMUR_ASSIGN_OR_RETURN(Member w, ReadMember(**zip, path, "writer_train"));
    MURMUR_RETURN_IF_ERROR(FillWriters(w, path, split.train));
  }
  return split;
}

}  // namespace murmur
