// A runtime peer's persisted state, DIR/peer_state.bin (`murmur peer
// --persist-every N --out DIR`), from which a restarted peer resumes at the
// round boundary it was saved at (docs/runtime.md, "Persisting and
// resuming peers"):
//
//   "MURMPEER"   8 bytes
//   version      u32 (kPeerStateVersion)
//   config_hash  u64: RunConfigHash of the run's resolved config (its identity)
//   peer         u32: the slot (--index) that wrote it
//   round        u64: the rounds this peer had completed (its model's round)
//   jsonl_bytes  u64: metrics.jsonl's length at the save (its rows through
//                `round`; a restarted peer cuts the file back to it, so the
//                rows it had written after the save are not written twice)
//   csv_bytes    u64: metrics.csv's, likewise
//   learner      u64 length, then Learner::Save's bytes (parameters,
//                optimizer state, batch stream)
//   node         u64 length, then Node::Save's bytes (the protocol's state;
//                empty for D-PSGD, which resumes from `round` alone)
//   checksum     u64: FNV-1a 64 of every byte before it
//
// Little-endian. Written atomically (atomic_file.h): a kill or power loss
// at any moment leaves the previous state or the new one.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/ids.h"
#include "murmur/core/status.h"

namespace murmur {

inline constexpr uint32_t kPeerStateVersion = 2;
inline constexpr char kPeerStateFileName[] = "peer_state.bin";
// Bounds what a corrupt or hostile file can make a peer allocate: a
// learner's parameters and optimizer state, far below this for the models
// a peer trains.
inline constexpr uint64_t kMaxPeerStateBytes = uint64_t{16} << 30;

struct PeerState {
  uint64_t config_hash = 0;
  PeerId peer;
  int64_t round = 0;
  uint64_t jsonl_bytes = 0;      // metrics.jsonl's length at the save
  uint64_t csv_bytes = 0;        // metrics.csv's
  std::vector<uint8_t> learner;  // Learner::Save's bytes
  std::vector<uint8_t> node;     // Node::Save's bytes (may be empty)
};

// The file's bytes for `state`.
std::vector<uint8_t> EncodePeerState(const PeerState& state);

// Writes `dir`/peer_state.bin atomically. kUnavailable when it cannot (the
// previous file, if any, is left as it was).
Status WritePeerStateFile(const std::string& dir, const PeerState& state);

// Parses a state file's bytes, never reading past them. kCorrupt for a
// wrong magic, version, length or checksum; kInvalidArgument when it belongs
// to another run (`expected_config_hash` differs) or another slot.
Result<PeerState> ParsePeerState(std::span<const uint8_t> bytes, uint64_t expected_config_hash,
                                 PeerId expected_peer);

// Reads and parses `dir`/peer_state.bin: none when there is no such file;
// otherwise as ParsePeerState (the message names the file), kCorrupt also
// for a file over kMaxPeerStateBytes or not a regular file.
Result<std::optional<PeerState>> ReadPeerStateFile(const std::string& dir,
                                                   uint64_t expected_config_hash,
                                                   PeerId expected_peer);

}  // namespace murmur
