#include "murmur/experiment/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace murmur {
namespace {

Status WriteAll(int fd, std::span<const uint8_t> bytes, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Unavailable("cannot write '", path, "': ", std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Status::Unavailable("cannot open '", dir, "': ", std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::Unavailable("cannot sync '", dir, "': ", std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomically(const std::string& dir, const std::string& name,
                           std::initializer_list<std::span<const uint8_t>> parts) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot create '", tmp, "': ", std::strerror(errno));
  Status status;
  for (std::span<const uint8_t> part : parts) {
    if (status.ok()) status = WriteAll(fd, part, tmp);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = Status::Unavailable("cannot sync '", tmp, "': ", std::strerror(errno));
  }
  ::close(fd);
  if (status.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) {
    status = Status::Unavailable("cannot rename '", tmp, "': ", std::strerror(errno));
  }
  if (!status.ok()) {
    std::remove(tmp.c_str());
    return status;
  }
  return SyncDir(dir);
}

Result<std::vector<uint8_t>> ReadFileBounded(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  const std::filesystem::file_status st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) return Status::NotFound("no file '", path, "'");
  if (!std::filesystem::is_regular_file(st)) {
    return Status::Corrupt("'", path, "' is not a regular file");
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::Unavailable("cannot read the size of '", path, "'");
  if (size > max_bytes) {
    return Status::Corrupt("'", path, "' is ", size, " bytes, more than the ", max_bytes,
                           " this file may hold");
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in || in.gcount() != static_cast<std::streamsize>(size)) {
    return Status::Unavailable("cannot read '", path, "'");
  }
  return bytes;
}

}  // namespace murmur
