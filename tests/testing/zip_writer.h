// .npy members and zip archives written by hand, as numpy.savez (stored)
// and numpy.savez_compressed (raw deflate) write them, with ways to lie
// about sizes and CRCs: for the .npz reader's tests and its fuzz target's
// seeds. Header-only; needs zlib; no gtest.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace murmur::testing {

// A version 1.0 .npy file as NumPy writes it: `descr` such as "<f4", "|u1",
// "<i8"; `shape`; `data` the raw little-endian values.
inline std::vector<uint8_t> NpyBytes(const std::string& descr, const std::vector<int64_t>& shape,
                                     const std::vector<uint8_t>& data) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  if (shape.size() == 1) dims.pop_back();
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims +
                       "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const uint8_t start[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             static_cast<uint8_t>(header.size() & 0xff),
                             static_cast<uint8_t>(header.size() >> 8)};
  // Sized once and filled with memcpy: GCC 12 warns falsely about
  // vector::insert into a short initializer-list vector.
  std::vector<uint8_t> out(sizeof start + header.size() + data.size());
  std::memcpy(out.data(), start, sizeof start);
  std::memcpy(out.data() + sizeof start, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + sizeof start + header.size(), data.data(), data.size());
  return out;
}

// The raw bytes of `values` (little-endian on every host murmur runs on).
template <typename T>
std::vector<uint8_t> RawBytes(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// A zip archive written by hand (PKWARE APPNOTE 4.3: local headers, central
// directory, end record; no zip64).
class ZipWriter {
 public:
  enum class Method : uint16_t { kStored = 0, kDeflated = 8 };

  // Adds a member. `declared_size`, when set, replaces the true uncompressed
  // size in both headers (a lying archive).
  void Add(const std::string& name, const std::vector<uint8_t>& data,
           Method method = Method::kStored, int64_t declared_size = -1,
           bool corrupt_crc = false) {
    std::vector<uint8_t> stored = method == Method::kStored ? data : RawDeflate(data);
    uint32_t crc = static_cast<uint32_t>(crc32(0, data.data(), static_cast<uInt>(data.size())));
    if (corrupt_crc) crc ^= 1;
    const uint32_t size = static_cast<uint32_t>(declared_size >= 0 ? declared_size : data.size());
    Entry e{name, static_cast<uint16_t>(method), crc, static_cast<uint32_t>(stored.size()), size,
            static_cast<uint32_t>(body_.size())};
    Put32(body_, 0x04034b50);
    Put16(body_, 20);
    Put16(body_, 0);
    Put16(body_, e.method);
    Put32(body_, 0);  // time, date
    Put32(body_, e.crc);
    Put32(body_, e.compressed);
    Put32(body_, e.size);
    Put16(body_, static_cast<uint16_t>(name.size()));
    Put16(body_, 0);
    body_.insert(body_.end(), name.begin(), name.end());
    body_.insert(body_.end(), stored.begin(), stored.end());
    entries_.push_back(e);
  }

  std::vector<uint8_t> Bytes() const {
    std::vector<uint8_t> out = body_;
    const uint32_t directory = static_cast<uint32_t>(out.size());
    for (const Entry& e : entries_) {
      Put32(out, 0x02014b50);
      Put16(out, 20);
      Put16(out, 20);
      Put16(out, 0);
      Put16(out, e.method);
      Put32(out, 0);
      Put32(out, e.crc);
      Put32(out, e.compressed);
      Put32(out, e.size);
      Put16(out, static_cast<uint16_t>(e.name.size()));
      Put16(out, 0);  // extra
      Put16(out, 0);  // comment
      Put16(out, 0);  // disk
      Put16(out, 0);  // internal attributes
      Put32(out, 0);  // external attributes
      Put32(out, e.offset);
      out.insert(out.end(), e.name.begin(), e.name.end());
    }
    const uint32_t directory_size = static_cast<uint32_t>(out.size()) - directory;
    Put32(out, 0x06054b50);
    Put16(out, 0);
    Put16(out, 0);
    Put16(out, static_cast<uint16_t>(entries_.size()));
    Put16(out, static_cast<uint16_t>(entries_.size()));
    Put32(out, directory_size);
    Put32(out, directory);
    Put16(out, 0);
    return out;
  }

 private:
  struct Entry {
    std::string name;
    uint16_t method;
    uint32_t crc;
    uint32_t compressed;
    uint32_t size;
    uint32_t offset;
  };

  static void Put16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
  }
  static void Put32(std::vector<uint8_t>& out, uint32_t v) {
    Put16(out, static_cast<uint16_t>(v));
    Put16(out, static_cast<uint16_t>(v >> 16));
  }

  // A raw deflate stream (no zlib header), as zip stores it.
  static std::vector<uint8_t> RawDeflate(const std::vector<uint8_t>& data) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    std::vector<uint8_t> out(deflateBound(&z, static_cast<uLong>(data.size())));
    z.next_in = const_cast<Bytef*>(data.data());
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  }

  std::vector<uint8_t> body_;
  std::vector<Entry> entries_;
};

}  // namespace murmur::testing
