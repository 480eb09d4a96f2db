#include "murmur/experiment/peer_state.h"

#include <cstring>

#include "murmur/core/snapshot.h"
#include "murmur/experiment/atomic_file.h"
#include "murmur/experiment/run_snapshot.h"

namespace murmur {
namespace {

constexpr char kMagic[8] = {'M', 'U', 'R', 'M', 'P', 'E', 'E', 'R'};
constexpr size_t kHeaderBytes = 8 + 4 + 8 + 4 + 8 + 8 + 8;  // through csv_bytes
constexpr size_t kChecksumBytes = 8;

}  // namespace

std::vector<uint8_t> EncodePeerState(const PeerState& state) {
  SnapshotWriter out;
  for (char c : kMagic) out.U8(static_cast<uint8_t>(c));
  out.U32(kPeerStateVersion);
  out.U64(state.config_hash);
  out.U32(state.peer.value);
  out.I64(state.round);
  out.U64(state.jsonl_bytes);
  out.U64(state.csv_bytes);
  out.Bytes(state.learner);
  out.Bytes(state.node);
  std::vector<uint8_t> bytes = out.Take();
  SnapshotWriter tail;
  tail.U64(Fnv1a64(bytes));
  bytes.insert(bytes.end(), tail.bytes().begin(), tail.bytes().end());
  return bytes;
}

Status WritePeerStateFile(const std::string& dir, const PeerState& state) {
  const std::vector<uint8_t> bytes = EncodePeerState(state);
  return WriteFileAtomically(dir, kPeerStateFileName, {bytes});
}

Result<PeerState> ParsePeerState(std::span<const uint8_t> bytes, uint64_t expected_config_hash,
                                 PeerId expected_peer) {
  if (bytes.size() < kHeaderBytes + kChecksumBytes ||
      std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corrupt("not a murmur peer state (", bytes.size(),
                           " bytes, no MURMPEER header)");
  }
  SnapshotReader in(bytes.subspan(sizeof kMagic));
  const uint32_t version = in.U32("version");
  PeerState state;
  state.config_hash = in.U64("config_hash");
  state.peer = PeerId(in.U32("peer"));
  state.round = in.I64("round");
  state.jsonl_bytes = in.U64("jsonl_bytes");
  state.csv_bytes = in.U64("csv_bytes");
  MURMUR_RETURN_IF_ERROR(in.status());
  if (version != kPeerStateVersion) {
    return Status::Corrupt("peer state format version ", version, "; this build reads version ",
                           kPeerStateVersion);
  }
  uint64_t checksum = 0;
  std::memcpy(&checksum, bytes.data() + bytes.size() - kChecksumBytes, kChecksumBytes);
  if (Fnv1a64(bytes.first(bytes.size() - kChecksumBytes)) != checksum) {
    return Status::Corrupt("peer state checksum mismatch: the file is corrupt");
  }
  // The two bodies, each with its length, then exactly the checksum.
  SnapshotReader body(bytes.subspan(kHeaderBytes, bytes.size() - kHeaderBytes - kChecksumBytes));
  state.learner = body.Bytes("learner");
  state.node = body.Bytes("node");
  if (!body.ok() || body.remaining() != 0) {
    return Status::Corrupt("peer state truncated or padded: its bodies do not fill the ",
                           bytes.size(), "-byte file (",
                           body.ok() ? std::to_string(body.remaining()) + " bytes left over"
                                     : body.status().message(),
                           ")");
  }
  if (state.round < 0) return Status::Corrupt("peer state of round ", state.round);
  if (state.config_hash != expected_config_hash) {
    return Status::InvalidArgument(
        "the peer state belongs to another run (its config hash differs): restart with the "
        "interrupted run's config, or give this run another --out");
  }
  if (state.peer != expected_peer) {
    return Status::InvalidArgument("the peer state is peer ", state.peer.value,
                                   "'s, not peer ", expected_peer.value,
                                   "'s: give each peer its own --out");
  }
  return state;
}

Result<std::optional<PeerState>> ReadPeerStateFile(const std::string& dir,
                                                   uint64_t expected_config_hash,
                                                   PeerId expected_peer) {
  const std::string path = dir + "/" + kPeerStateFileName;
  Result<std::vector<uint8_t>> bytes = ReadFileBounded(path, kMaxPeerStateBytes);
  if (bytes.status().code() == StatusCode::kNotFound) return std::optional<PeerState>();
  if (!bytes.ok()) return bytes.status();
  Result<PeerState> parsed = ParsePeerState(*bytes, expected_config_hash, expected_peer);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), "'" + path + "': " + parsed.status().message());
  }
  return std::optional<PeerState>(std::move(parsed).value());
}

}  // namespace murmur
