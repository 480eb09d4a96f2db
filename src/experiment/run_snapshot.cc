#include "murmur/experiment/run_snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "murmur/core/snapshot.h"

namespace murmur {
namespace {

constexpr char kMagic[8] = {'M', 'U', 'R', 'M', 'S', 'N', 'A', 'P'};
constexpr size_t kHeaderBytes = 8 + 4 + 8 * 4 + 8;  // through body_bytes
// A snapshot holds every peer's model and optimizer state; this bounds
// what a corrupt length can make us allocate.
constexpr uint64_t kMaxSnapshotBytes = uint64_t{64} << 30;

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

uint64_t Fnv1a64(std::span<const uint8_t> bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

Status WriteSnapshotFile(const std::string& dir, const SnapshotHeader& header,
                         std::span<const uint8_t> body) {
  SnapshotWriter out;
  for (char c : kMagic) out.U8(static_cast<uint8_t>(c));
  out.U32(kSnapshotVersion);
  out.U64(header.config_hash);
  out.U64(header.jsonl_bytes);
  out.U64(header.csv_bytes);
  out.F64(header.time_s);
  out.U64(body.size());
  std::vector<uint8_t> head = out.Take();
  uint64_t h = 0xcbf29ce484222325ULL;
  for (std::span<const uint8_t> part : {std::span<const uint8_t>(head), body}) {
    for (uint8_t b : part) {
      h ^= b;
      h *= 0x100000001b3ULL;
    }
  }
  SnapshotWriter tail;
  tail.U64(h);
  const std::string path = dir + "/" + kSnapshotFileName;
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot create '", tmp, "': ", std::strerror(errno));
  Status status = WriteAll(fd, head, tmp);
  if (status.ok()) status = WriteAll(fd, body, tmp);
  if (status.ok()) status = WriteAll(fd, tail.bytes(), tmp);
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

Result<LoadedSnapshot> ParseSnapshotFile(std::span<const uint8_t> bytes,
                                         uint64_t expected_config_hash) {
  if (bytes.size() < kHeaderBytes + 8 || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    return Status::Corrupt("not a murmur snapshot (", bytes.size(), " bytes, no MURMSNAP header)");
  }
  SnapshotReader in(bytes.subspan(8));
  const uint32_t version = in.U32("version");
  LoadedSnapshot s;
  s.header.config_hash = in.U64("config_hash");
  s.header.jsonl_bytes = in.U64("jsonl_bytes");
  s.header.csv_bytes = in.U64("csv_bytes");
  s.header.time_s = in.F64("time_s");
  const uint64_t body = in.U64("body_bytes");
  if (version != kSnapshotVersion) {
    return Status::Corrupt("snapshot format version ", version, "; this build reads version ",
                           kSnapshotVersion);
  }
  if (body != bytes.size() - kHeaderBytes - 8) {
    return Status::Corrupt("snapshot truncated or padded: its body should be ", body,
                           " bytes, the file holds ", bytes.size() - kHeaderBytes - 8);
  }
  uint64_t checksum = 0;
  std::memcpy(&checksum, bytes.data() + bytes.size() - 8, 8);
  if (Fnv1a64(bytes.first(bytes.size() - 8)) != checksum) {
    return Status::Corrupt("snapshot checksum mismatch: the file is corrupt");
  }
  if (s.header.config_hash != expected_config_hash) {
    return Status::InvalidArgument(
        "the snapshot was taken with another config (its config hash differs): resume with the "
        "config of the interrupted run, or start a new run without --resume");
  }
  s.body.assign(bytes.begin() + kHeaderBytes, bytes.end() - 8);
  return s;
}

Result<LoadedSnapshot> ReadSnapshotFile(const std::string& dir, uint64_t expected_config_hash) {
  const std::string path = dir + "/" + kSnapshotFileName;
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    return Status::NotFound("no snapshot at '", path,
                            "': nothing to resume (runs write one with sim.snapshot_every_s or "
                            "--snapshot-every)");
  }
  if (size > kMaxSnapshotBytes) return Status::Corrupt("'", path, "' is ", size, " bytes");
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) return Status::Unavailable("cannot read '", path, "'");
  Result<LoadedSnapshot> parsed = ParseSnapshotFile(bytes, expected_config_hash);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), "'" + path + "': " + parsed.status().message());
  }
  return parsed;
}

}  // namespace murmur
