// Private to learn/: reads named members of a zip archive (the container of
// NumPy's .npz files) through Debian's minizip. Stored and deflated members
// are read, zip64 included (numpy.savez writes zip64 headers).
//
// Never trusts a size in the archive: a member's compressed size must fit
// in the file, a stored member's size must equal it and a deflated one's
// may exceed it at most by deflate's maximum ratio (1032:1); the buffer
// grows only with bytes actually inflated, and the CRC is checked. Not
// thread-safe (one open archive per loader).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

class ZipArchive {
 public:
  // kNotFound when `path` does not exist, kCorrupt when it is not a zip
  // archive.
  static Result<std::unique_ptr<ZipArchive>> Open(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  // Whether the archive has a member called exactly `name`.
  bool Has(const std::string& name);

  // The member's uncompressed bytes. kNotFound when absent; kCorrupt (naming
  // the archive and member) for an encrypted member, an unknown compression
  // method, sizes that do not fit the file, a damaged deflate stream, data
  // shorter than declared or a CRC mismatch.
  Result<std::vector<uint8_t>> Read(const std::string& name);

 private:
  ZipArchive(std::string path, void* handle, uint64_t file_size)
      : path_(std::move(path)), handle_(handle), file_size_(file_size) {}

  std::string path_;
  void* handle_;  // minizip's unzFile
  uint64_t file_size_;
};

}  // namespace murmur
