#include "murmur/experiment/run_snapshot.h"

#include <cstring>

#include "murmur/core/snapshot.h"
#include "murmur/experiment/atomic_file.h"

namespace murmur {
namespace {

constexpr char kMagic[8] = {'M', 'U', 'R', 'M', 'S', 'N', 'A', 'P'};
constexpr size_t kHeaderBytes = 8 + 4 + 8 * 4 + 8;  // through body_bytes
// A snapshot holds every peer's model and optimizer state; this bounds
// what a corrupt length can make us allocate.
constexpr uint64_t kMaxSnapshotBytes = uint64_t{64} << 30;

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
  return WriteFileAtomically(dir, kSnapshotFileName, {head, body, tail.bytes()});
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
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, kMaxSnapshotBytes);
  if (bytes.status().code() == StatusCode::kNotFound) {
    return Status::NotFound("no snapshot at '", path,
                            "': nothing to resume (runs write one with sim.snapshot_every_s or "
                            "--snapshot-every)");
  }
  if (!bytes.ok()) return bytes.status();
  Result<LoadedSnapshot> parsed = ParseSnapshotFile(*bytes, expected_config_hash);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), "'" + path + "': " + parsed.status().message());
  }
  return parsed;
}

}  // namespace murmur
