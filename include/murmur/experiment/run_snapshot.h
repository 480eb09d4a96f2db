// A simulated run's snapshot file, DIR/snapshot.bin (`murmur run` with
// sim.snapshot_every_s, continued by `murmur run --resume DIR`):
//
//   "MURMSNAP"  8 bytes
//   version     u32 (kSnapshotVersion)
//   config_hash u64: SnapshotConfigHash of the run's resolved config
//   jsonl_bytes u64: metrics.jsonl's length when the snapshot was taken
//   csv_bytes   u64: metrics.csv's length then
//   time_s      f64: the virtual time of the snapshot
//   body_bytes  u64, then the body: the learners, the evaluation collector
//               and the simulator with its nodes (core/snapshot.h fields)
//   checksum    u64: FNV-1a 64 of every byte before it
//
// Little-endian. Written atomically: a temporary file, fsync, rename over
// the previous snapshot, fsync of the directory, so a kill at any moment
// leaves either the previous snapshot or the new one, never a torn file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

inline constexpr uint32_t kSnapshotVersion = 3;
inline constexpr char kSnapshotFileName[] = "snapshot.bin";

struct SnapshotHeader {
  uint64_t config_hash = 0;
  uint64_t jsonl_bytes = 0;
  uint64_t csv_bytes = 0;
  double time_s = 0;
};

struct LoadedSnapshot {
  SnapshotHeader header;
  std::vector<uint8_t> body;
};

// FNV-1a 64 (Fowler, Noll, Vo): detects a corrupt or truncated file and a
// changed config; not a defence against a forger.
uint64_t Fnv1a64(std::span<const uint8_t> bytes);

// Writes `dir`/snapshot.bin as above. kUnavailable when it cannot (the
// previous snapshot, if any, is then left as it was).
Status WriteSnapshotFile(const std::string& dir, const SnapshotHeader& header,
                         std::span<const uint8_t> body);

// Parses a snapshot file's bytes. kCorrupt for a wrong magic, version,
// length or checksum; kInvalidArgument when its config hash is not
// `expected_config_hash` (the run's config changed since).
Result<LoadedSnapshot> ParseSnapshotFile(std::span<const uint8_t> bytes,
                                         uint64_t expected_config_hash);

// Reads and parses `dir`/snapshot.bin; kNotFound when there is none.
Result<LoadedSnapshot> ReadSnapshotFile(const std::string& dir, uint64_t expected_config_hash);

}  // namespace murmur
