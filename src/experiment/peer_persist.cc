#include "peer_persist.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "murmur/core/snapshot.h"
#include "murmur/protocol/registry.h"

namespace murmur {
namespace {

constexpr const char* kMetricsFiles[] = {"metrics.jsonl", "metrics.csv"};

// Flushes `path`'s written bytes to disk; kUnavailable when it cannot.
Status SyncFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("cannot open '", path, "' to sync it");
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Status::Unavailable("cannot sync '", path, "'");
  return Status::Ok();
}

// The registered protocols whose peers persist, "a", "b" and "c".
std::string PersistableKinds() {
  std::vector<std::string_view> kinds;
  for (const ProtocolSpec* spec : ProtocolSpecs()) {
    if (spec->persistable != nullptr) kinds.push_back(spec->name);
  }
  std::string out;
  for (size_t i = 0; i < kinds.size(); ++i) {
    out += i == 0 ? "" : i + 1 == kinds.size() ? " and " : ", ";
    out += "\"" + std::string(kinds[i]) + "\"";
  }
  return out;
}

}  // namespace

Status CheckPersistableRun(const RunConfig& config) {
  MURMUR_ASSIGN_OR_RETURN(const ProtocolSpec* spec, FindProtocolSpec(config.protocol.kind));
  if (spec->persistable == nullptr) {
    return Status::InvalidArgument(
        "--persist-every: protocol.kind = \"", config.protocol.kind, "\" cannot persist its "
        "peers' state; it is implemented for ", PersistableKinds(), ": drop the flag");
  }
  if (config.train.dp_sgd.enabled) {
    return Status::InvalidArgument("--persist-every: a DP-SGD learner's privacy accounting is "
                                   "not saved; drop the flag or train.dp_sgd");
  }
  // The protocol's options whose state its peers cannot save, refused
  // before `murmur launch` starts any peer (PersistedNodeOf refuses the
  // rest, in each peer).
  if (Status s = spec->persistable(config.protocol); !s.ok()) {
    return Status::InvalidArgument("--persist-every: ", s.message());
  }
  return Status::Ok();
}

Status CheckPersistable(const RunConfig& config, const NetRunOptions& options) {
  MURMUR_RETURN_IF_ERROR(CheckPersistableRun(config));
  if (options.out_dir.empty()) {
    return Status::InvalidArgument("--persist-every needs --out DIR to keep the peer's state in");
  }
  return Status::Ok();
}

Result<std::optional<PeerState>> LoadPersisted(const RunConfig& config,
                                               const NetRunOptions& options, PeerId self) {
  Result<std::optional<PeerState>> state =
      ReadPeerStateFile(options.out_dir, options.config_hash, self);
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kUnavailable) return state.status();
    return Status::InvalidArgument(state.status().message(),
                                   ": move it away to start this peer from round 0");
  }
  if (state->has_value() && (*state)->round > config.protocol.rounds) {
    return Status::InvalidArgument("'", options.out_dir, "/", kPeerStateFileName, "' is of round ",
                                   (*state)->round, ", after this run's last (",
                                   config.protocol.rounds, "): move it away");
  }
  return state;
}

Status RestoreLearner(std::span<const uint8_t> bytes, Learner& learner) {
  SnapshotReader in(bytes);
  MURMUR_RETURN_IF_ERROR(learner.Restore(in));
  MURMUR_RETURN_IF_ERROR(in.status());
  if (in.remaining() != 0) {
    return Status::Corrupt(in.remaining(), " bytes left over after the learner's state");
  }
  return Status::Ok();
}

Result<PersistedNode> PersistedNodeOf(const RunConfig& config, PeerId self, Node& node,
                                      const Learner& learner) {
  const PersistMode mode = node.persist_mode();
  if (mode == PersistMode::kNone || (mode == PersistMode::kBySnapshot && !node.CanSnapshot()) ||
      !learner.CanSnapshot()) {
    return Status::InvalidArgument(
        "--persist-every: peer ", self.value, "'s state cannot be saved in this \"",
        config.protocol.kind, "\" run (a Byzantine peer, robust.rule = \"sybilwall\", "
        "\"bristle\" or a Python rule, [privacy], secure aggregation or gossip dp noise, or a "
        "codec or compression): drop the flag");
  }
  return PersistedNode{.node = mode == PersistMode::kBySnapshot ? &node : nullptr,
                       .point = mode == PersistMode::kLearnerAtTrainLoss
                                    ? PersistPoint::kTrainLossReport
                                    : PersistPoint::kModelReport};
}

Status RestoreNode(std::span<const uint8_t> bytes, Node& node) {
  SnapshotReader in(bytes);
  MURMUR_RETURN_IF_ERROR(node.Restore(in));
  MURMUR_RETURN_IF_ERROR(in.status());
  if (in.remaining() != 0) {
    return Status::Corrupt(in.remaining(), " bytes left over after the node's state");
  }
  return Status::Ok();
}

Status CutMetricsToState(const std::string& dir, const PeerState& state) {
  const Status cut = MetricsWriter::CutTo(
      dir, state.jsonl_bytes, state.csv_bytes,
      dir + "/" + kPeerStateFileName + " at round " + std::to_string(state.round));
  if (cut.code() != StatusCode::kInvalidArgument) return cut;
  return Status::InvalidArgument(cut.message(), "; move ", kPeerStateFileName,
                                 " away to start this peer from round 0 (its rows are then "
                                 "appended after the file's)");
}

std::function<void(Round)> PersistHook(const RunConfig& config, const NetRunOptions& options,
                                       PeerId self, const Learner* learner, const Node* node,
                                       MetricsWriter* writer, int64_t start_round,
                                       Status* status) {
  if (options.persist_every <= 0) return {};
  return [&config, &options, self, learner, node, writer, start_round, status](Round round) {
    const int64_t r = round.value;
    if (!status->ok() || r <= start_round ||
        (r % options.persist_every != 0 && r != config.protocol.rounds)) {
      return;
    }
    PeerState state{.config_hash = options.config_hash, .peer = self, .round = r};
    if (writer != nullptr) {
      for (const char* file : kMetricsFiles) {
        *status = SyncFile(options.out_dir + "/" + file);
        if (!status->ok()) break;
      }
      std::tie(state.jsonl_bytes, state.csv_bytes) = writer->lengths();
    }
    SnapshotWriter out;
    learner->Save(out);
    state.learner = out.Take();
    if (node != nullptr) {
      SnapshotWriter node_out;
      node->Save(node_out);
      state.node = node_out.Take();
    }
    if (status->ok()) *status = WritePeerStateFile(options.out_dir, state);
    if (!status->ok()) {
      std::fprintf(stderr, "[peer %u] cannot persist round %lld, no further attempts: %s\n",
                   self.value, static_cast<long long>(r), status->message().c_str());
    }
  };
}

}  // namespace murmur
