#include "murmur/core/npy.h"

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>

namespace murmur {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// NumPy itself refuses headers over 10000 bytes unless told otherwise; this
// bound only keeps a hostile length field from mattering.
constexpr size_t kMaxHeaderBytes = 1 << 20;
constexpr size_t kMaxDims = 64;  // NumPy's own limit

// The header dict's three values, not yet checked against what we read.
struct HeaderFields {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// A cursor over the header's Python dict literal. Accepts exactly the
// literals NumPy writes (and older NumPy wrote: 'L' suffixes, either quote
// style, trailing commas) and nothing that needs evaluation.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : text_(text) {}

  Result<HeaderFields> Parse() {
    SkipSpace();
    if (!Consume('{')) return Error("header does not start with '{'");
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<int64_t>> shape;
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      MURMUR_ASSIGN_OR_RETURN(std::string key, String());
      SkipSpace();
      if (!Consume(':')) return Error("expected ':' after key '", key, "'");
      SkipSpace();
      if (key == "descr") {
        if (descr) return Error("duplicate key 'descr'");
        MURMUR_ASSIGN_OR_RETURN(descr, String());
      } else if (key == "fortran_order") {
        if (fortran_order) return Error("duplicate key 'fortran_order'");
        MURMUR_ASSIGN_OR_RETURN(fortran_order, Bool());
      } else if (key == "shape") {
        if (shape) return Error("duplicate key 'shape'");
        MURMUR_ASSIGN_OR_RETURN(shape, Shape());
      } else {
        return Error("unknown header key '", key,
                     "' (expected 'descr', 'fortran_order' and 'shape')");
      }
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume('}')) break;
      return Error("expected ',' or '}' after the value of '", key, "'");
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected text after the header dict");
    if (!descr || !fortran_order || !shape) {
      return Error("header lacks ", !descr ? "'descr'" : !fortran_order ? "'fortran_order'"
                                                                        : "'shape'");
    }
    return HeaderFields{std::move(*descr), *fortran_order, std::move(*shape)};
  }

 private:
  template <typename... Args>
  Status Error(const Args&... args) const {
    return Status::Corrupt("npy header: ", args..., " (at byte ", pos_, " of the header)");
  }

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool ConsumeWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    const size_t end = pos_ + word.size();
    if (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) ||
                               text_[end] == '_')) {
      return false;
    }
    pos_ = end;
    return true;
  }

  // A quoted string without escapes (NumPy's keys and dtype strings never
  // need them).
  Result<std::string> String() {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Error("expected a quoted string");
    }
    const char quote = text_[pos_++];
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' || text_[pos_] == '\n') {
        return Error("escapes and line breaks in strings are not supported");
      }
      ++pos_;
    }
    if (pos_ >= text_.size()) return Error("unterminated string");
    std::string value(text_.substr(start, pos_ - start));
    ++pos_;
    return value;
  }

  Result<bool> Bool() {
    if (ConsumeWord("True")) return true;
    if (ConsumeWord("False")) return false;
    return Error("fortran_order must be True or False");
  }

  Result<int64_t> Dimension() {
    const size_t start = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (value > (int64_t{1} << 56)) return Error("dimension too large");
      value = value * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    if (pos_ == start) return Error("shape must be a tuple of non-negative integers");
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;
    return value;
  }

  // A Python tuple: (), (n,), (n, m), (n, m,) ...; "(n)" is an int, not a
  // tuple, and NumPy rejects it too.
  Result<std::vector<int64_t>> Shape() {
    if (!Consume('(')) return Error("shape must be a tuple");
    std::vector<int64_t> dims;
    bool trailing_comma = false;
    while (true) {
      SkipSpace();
      if (Consume(')')) break;
      if (dims.size() == kMaxDims) return Error("shape has more than ", kMaxDims, " dimensions");
      MURMUR_ASSIGN_OR_RETURN(int64_t d, Dimension());
      dims.push_back(d);
      SkipSpace();
      trailing_comma = Consume(',');
      if (trailing_comma) continue;
      SkipSpace();
      if (Consume(')')) break;
      return Error("expected ',' or ')' in shape");
    }
    if (dims.size() == 1 && !trailing_comma) {
      return Error("shape (", dims[0], ") is not a tuple; write (", dims[0], ",)");
    }
    return dims;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

namespace {

struct RawHeader {
  HeaderFields fields;
  size_t data_offset = 0;
};

// The magic, version, header length and header dict; the data after them is
// not looked at.
Result<RawHeader> ReadHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return Status::Corrupt("npy: not a .npy file (missing the \\x93NUMPY magic)");
  }
  const uint8_t major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0) {
    return Status::Corrupt("npy: unsupported format version ", int{major}, ".", int{minor},
                           " (1.0, 2.0 and 3.0 are read)");
  }
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicSize + 2 + length_bytes;
  if (bytes.size() < prefix) {
    return Status::Corrupt("npy: truncated before the header length");
  }
  size_t header_len = 0;
  for (size_t i = 0; i < length_bytes; ++i) {
    header_len |= static_cast<size_t>(bytes[kMagicSize + 2 + i]) << (8 * i);
  }
  if (header_len > kMaxHeaderBytes) {
    return Status::Corrupt("npy: header length ", header_len, " exceeds ", kMaxHeaderBytes,
                           " bytes");
  }
  if (bytes.size() - prefix < header_len) {
    return Status::Corrupt("npy: header of ", header_len, " bytes truncated: file has ",
                           bytes.size() - prefix, " bytes after the length field");
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + prefix),
                                header_len);
  MURMUR_ASSIGN_OR_RETURN(HeaderFields fields, HeaderParser(header).Parse());
  return RawHeader{std::move(fields), prefix + header_len};
}

// The number of values `shape` holds, checked to fill exactly `available`
// bytes of `item_size`-byte values. Multiplies only while the product still
// fits in the file, so a hostile shape cannot overflow it.
Result<size_t> CountValues(const std::vector<int64_t>& shape, size_t available, size_t item_size,
                           const char* type_name) {
  const size_t capacity = available / item_size;
  size_t count = 1;
  for (int64_t d : shape) {
    if (d == 0) count = 0;
  }
  for (int64_t d : shape) {
    if (count == 0) break;
    if (static_cast<size_t>(d) > capacity / count) {
      return Status::Corrupt("npy: data truncated: shape ", ShapeString(shape),
                             " needs more ", type_name, " values than the ", available,
                             " data bytes hold");
    }
    count *= static_cast<size_t>(d);
  }
  if (available != count * item_size) {
    return Status::Corrupt("npy: ", available - count * item_size, " trailing bytes after the ",
                           count, " ", type_name, " values of shape ", ShapeString(shape));
  }
  return count;
}

Status RejectFortranOrder() {
  return Status::InvalidArgument(
      "npy: fortran_order is True; only C order is read; convert with "
      "numpy.save(path, numpy.ascontiguousarray(array))");
}

struct DtypeInfo {
  const char* descr;
  NpyDtype dtype;
  size_t item_size;
};

// The little-endian numeric dtypes NumPy writes ('|' marks one byte).
constexpr DtypeInfo kDtypes[] = {
    {"<f4", NpyDtype::kFloat32, 4}, {"<f8", NpyDtype::kFloat64, 8},
    {"|u1", NpyDtype::kUint8, 1},   {"|i1", NpyDtype::kInt8, 1},
    {"<u2", NpyDtype::kUint16, 2},  {"<i2", NpyDtype::kInt16, 2},
    {"<u4", NpyDtype::kUint32, 4},  {"<i4", NpyDtype::kInt32, 4},
    {"<u8", NpyDtype::kUint64, 8},  {"<i8", NpyDtype::kInt64, 8},
    {"|b1", NpyDtype::kBool, 1},
};

}  // namespace

Result<NpyArray> ParseNpy(std::span<const uint8_t> bytes) {
  MURMUR_ASSIGN_OR_RETURN(RawHeader header, ReadHeader(bytes));
  if (header.fields.descr != "<f4") {
    return Status::InvalidArgument(
        "npy: dtype '", header.fields.descr,
        "' is not little-endian float32 ('<f4'); convert with "
        "numpy.save(path, array.astype('<f4'))");
  }
  if (header.fields.fortran_order) return RejectFortranOrder();
  NpyArray array;
  array.shape = std::move(header.fields.shape);
  MURMUR_ASSIGN_OR_RETURN(
      size_t count,
      CountValues(array.shape, bytes.size() - header.data_offset, sizeof(float), "float32"));
  array.data.resize(count);
  // (An empty vector's data() may be null: no memcpy of nothing into it.)
  if (count > 0) {
    std::memcpy(array.data.data(), bytes.data() + header.data_offset, count * sizeof(float));
  }
  return array;
}

Result<NpyView> ParseNpyView(std::span<const uint8_t> bytes) {
  MURMUR_ASSIGN_OR_RETURN(RawHeader header, ReadHeader(bytes));
  const DtypeInfo* info = nullptr;
  for (const DtypeInfo& d : kDtypes) {
    if (header.fields.descr == d.descr) info = &d;
  }
  if (info == nullptr) {
    return Status::InvalidArgument(
        "npy: dtype '", header.fields.descr,
        "' is not read (little-endian float32/float64, integers or bool are); convert with "
        "array.astype('<f4') or array.astype('<i8')");
  }
  if (header.fields.fortran_order) return RejectFortranOrder();
  NpyView view;
  view.shape = std::move(header.fields.shape);
  view.dtype = info->dtype;
  view.item_size = info->item_size;
  MURMUR_ASSIGN_OR_RETURN(size_t count, CountValues(view.shape, bytes.size() - header.data_offset,
                                                    info->item_size, info->descr));
  view.count = count;
  view.data = bytes.subspan(header.data_offset);
  return view;
}

std::vector<uint8_t> EncodeNpy(std::span<const float> values) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(values.size()) + ",), }";
  constexpr size_t prefix = kMagicSize + 2 + 2;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const uint8_t start[] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                           static_cast<uint8_t>(header.size() & 0xff),
                           static_cast<uint8_t>(header.size() >> 8)};
  static_assert(sizeof start == prefix);
  // Sized once and filled with memcpy: GCC 12 warns falsely about
  // vector::insert after reserve here.
  std::vector<uint8_t> out(prefix + header.size() + values.size_bytes());
  std::memcpy(out.data(), start, prefix);
  std::memcpy(out.data() + prefix, header.data(), header.size());
  if (!values.empty()) {
    std::memcpy(out.data() + prefix + header.size(), values.data(), values.size_bytes());
  }
  return out;
}

Result<NpyArray> ReadNpyFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("'", path, "' is a directory, not a .npy file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open '", path, "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) return Status::Unavailable("cannot read '", path, "'");
  Result<NpyArray> array = ParseNpy(bytes);
  if (!array.ok()) {
    return Status(array.status().code(), path + ": " + array.status().message());
  }
  return array;
}

Status WriteNpyFile(const std::string& path, std::span<const float> values) {
  const std::vector<uint8_t> bytes = EncodeNpy(values);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Status::Unavailable("cannot write '", path, "'");
  return Status::Ok();
}

}  // namespace murmur
