// NumPy's .npy file format (format versions 1.0, 2.0 and 3.0), restricted to
// what murmur exchanges with Python: little-endian float32 arrays in C order
// (ParseNpy), and for datasets (.npz members) any little-endian numeric
// dtype in C order (ParseNpyView).
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
//
// A file is the magic "\x93NUMPY", a major and minor version byte, the
// header length (u16 in 1.0, u32 in 2.0 and 3.0), then a Python dict literal
// such as {'descr': '<f4', 'fortran_order': False, 'shape': (3,), } padded
// with spaces and a newline, then the raw data. ParseNpy never reads past its
// input and rejects anything else with a message naming the bad field, so a
// hostile file cannot crash a process. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

struct NpyArray {
  std::vector<int64_t> shape;  // empty for a 0-d (scalar) array
  std::vector<float> data;     // product(shape) values, C order
};

// Decodes a whole .npy file. kCorrupt naming the problem for a bad magic,
// an unknown version, a header that is truncated, oversized (beyond the
// declared length or 1 MiB) or not the dict above (missing, unknown or
// duplicate keys, a malformed shape); for data shorter or longer than the
// shape says; and kInvalidArgument for a well-formed file murmur does not
// read: a dtype other than '<f4' (the message says how to convert) or
// fortran_order True.
Result<NpyArray> ParseNpy(std::span<const uint8_t> bytes);

// The element types ParseNpyView reads (all little-endian, as NumPy writes
// them on every machine murmur runs on).
enum class NpyDtype {
  kFloat32, kFloat64, kUint8, kInt8, kUint16, kInt16, kUint32, kInt32, kUint64, kInt64, kBool
};

// A decoded header over undecoded data: `data` points into the parsed
// bytes (it lives as long as they do) and holds exactly count * item_size
// bytes, count = product(shape), C order.
struct NpyView {
  std::vector<int64_t> shape;
  NpyDtype dtype = NpyDtype::kFloat32;
  size_t item_size = 4;
  size_t count = 0;
  std::span<const uint8_t> data;
};

// Like ParseNpy with any dtype of NpyDtype ('<f4', '<f8', '|u1', '|i1',
// '<u2', '<i2', '<u4', '<i4', '<u8', '<i8', '|b1'): the same kCorrupt
// errors, kInvalidArgument for another dtype or fortran_order True. Copies
// nothing.
Result<NpyView> ParseNpyView(std::span<const uint8_t> bytes);

// Encodes a 1-D float32 array as a version 1.0 .npy file (header padded so
// the data starts at a multiple of 64 bytes, as NumPy writes it).
std::vector<uint8_t> EncodeNpy(std::span<const float> values);

// Reads and parses `path`. kNotFound when it cannot be opened; ParseNpy's
// errors prefixed with the path.
Result<NpyArray> ReadNpyFile(const std::string& path);

// Writes EncodeNpy(values) to `path`, replacing it. kUnavailable when the
// file cannot be written.
Status WriteNpyFile(const std::string& path, std::span<const float> values);

}  // namespace murmur
