// RoundBarrier::Save and Restore (round_barrier.h).
#include "murmur/protocol/round_barrier.h"

#include <algorithm>
#include <string>

namespace murmur {
namespace {

ReceivedModel RestoreModel(SnapshotReader& in, size_t model_size) {
  std::vector<float> model = in.Floats("barrier.model");
  if (in.ok() && model.size() != model_size) {
    in.Fail(Status::Corrupt("snapshot: a buffered model has ", model.size(), " floats, expected ",
                            model_size));
  }
  return ReceivedModel(std::move(model));
}

// "1, 4, 9" (the first 8, then how many more).
std::string PeerList(const std::vector<PeerId>& peers) {
  std::string out;
  for (size_t i = 0; i < peers.size() && i < 8; ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(peers[i].value);
  }
  if (peers.size() > 8) out += ", ... " + std::to_string(peers.size() - 8) + " more";
  return out;
}

}  // namespace

void RoundBarrier::Save(SnapshotWriter& out) const {
  out.U32(open_.value);
  out.Bool(waiting_);
  out.U64(timer_.value);
  out.U64(rounds_.size());
  for (const auto& [round, inbox] : rounds_) {
    out.U32(round.value);
    out.Peers(inbox.expected);
    out.U64(inbox.arrived.size());
    for (const auto& [peer, model] : inbox.arrived) {
      out.U32(peer.value);
      out.Floats(model.view());
    }
  }
  out.Peers(down_);
  out.Peers(returned_);
  out.U64(excused_.size());
  for (const auto& [peer, round] : excused_) {
    out.U32(peer.value);
    out.U32(round.value);
  }
  out.U64(ahead_.size());
  for (const auto& [peer, kept] : ahead_) {
    out.U32(peer.value);
    out.U32(kept.first.value);
    out.Floats(kept.second.view());
  }
}

void RoundBarrier::Restore(SnapshotReader& in, size_t model_size) {
  open_ = Round(in.U32("barrier.open_round"));
  waiting_ = in.Bool("barrier.waiting");
  timer_ = TimerId(in.U64("barrier.timer"));
  rounds_.clear();
  const uint64_t rounds = in.Count("barrier.rounds", 12);
  for (uint64_t i = 0; i < rounds && in.ok(); ++i) {
    RoundInbox& inbox = rounds_[Round(in.U32("barrier.round"))];
    inbox.expected = in.Peers("barrier.expected");
    if (!std::is_sorted(inbox.expected.begin(), inbox.expected.end())) {
      in.Fail(Status::Corrupt("snapshot: a round's expected senders are not sorted"));
    }
    const uint64_t arrived = in.Count("barrier.arrived", 12);
    for (uint64_t j = 0; j < arrived && in.ok(); ++j) {
      const PeerId peer(in.U32("barrier.sender"));
      // Add files expected senders only; a node may index its senders by
      // that list (ByzantineDpsgdNode::Attack).
      if (in.ok() && !std::binary_search(inbox.expected.begin(), inbox.expected.end(), peer)) {
        in.Fail(Status::Corrupt("snapshot: a buffered model from peer ", peer.value,
                                ", which that round does not expect"));
      }
      inbox.arrived[peer] = RestoreModel(in, model_size);
    }
  }
  const std::vector<PeerId> down = in.Peers("barrier.down");
  down_ = std::set<PeerId>(down.begin(), down.end());
  const std::vector<PeerId> returned = in.Peers("barrier.returned");
  returned_ = std::set<PeerId>(returned.begin(), returned.end());
  excused_.clear();
  const uint64_t excused = in.Count("barrier.excused", 8);
  for (uint64_t i = 0; i < excused && in.ok(); ++i) {
    const PeerId peer(in.U32("barrier.excused_peer"));
    excused_[peer] = Round(in.U32("barrier.excused_round"));
  }
  ahead_.clear();
  const uint64_t ahead = in.Count("barrier.ahead", 16);
  for (uint64_t i = 0; i < ahead && in.ok(); ++i) {
    const PeerId peer(in.U32("barrier.ahead_peer"));
    const Round round(in.U32("barrier.ahead_round"));
    ahead_[peer] = {round, RestoreModel(in, model_size)};
  }
  if (in.ok() && open_.value < 1) in.Fail(Status::Corrupt("snapshot: barrier round 0"));
  // Rounds inside the window are buffered, later ones kept ahead (Add,
  // FileAheadModels): nothing else is reachable.
  const int64_t last_buffered = int64_t{open_.value} + options_.window;
  for (const auto& [round, inbox] : rounds_) {
    if (in.ok() && (round < open_ || round.value > last_buffered)) {
      in.Fail(Status::Corrupt("snapshot: barrier buffers round ", round.value, " outside [",
                              open_.value, ", ", last_buffered, "]"));
    }
  }
  for (const auto& [peer, kept] : ahead_) {
    if (in.ok() && kept.first.value <= last_buffered) {
      in.Fail(Status::Corrupt("snapshot: barrier keeps round ", kept.first.value,
                              " ahead, inside the window up to ", last_buffered));
    }
  }
  // Only now, with every round checked, ask the node who sends: a node's
  // expected senders may hold preconditions on the round (EpidemicTargets).
  CheckSendersMatch(in);
}

void RoundBarrier::CheckSendersMatch(SnapshotReader& in) const {
  // Each buffered round's senders are the ones this node expects (Touch
  // would have asked the same question), so a snapshot of another node, or
  // of another topology, is refused instead of filing models its mixing
  // would misattribute.
  for (const auto& [round, inbox] : rounds_) {
    if (!in.ok()) return;
    const std::vector<PeerId> mine = expected_(round);
    if (inbox.expected != mine) {
      in.Fail(Status::Corrupt("snapshot: round ", round.value, " expects ",
                              inbox.expected.size(), " senders (", PeerList(inbox.expected),
                              ") but this node expects ", mine.size(), " (", PeerList(mine),
                              "): the snapshot is of another peer or topology"));
    }
  }
  for (const auto& [peer, kept] : ahead_) {
    if (!in.ok()) return;
    const std::vector<PeerId> mine = expected_(kept.first);
    if (!std::binary_search(mine.begin(), mine.end(), peer)) {
      in.Fail(Status::Corrupt("snapshot: a model of round ", kept.first.value,
                              " kept ahead from peer ", peer.value,
                              ", which this node does not expect in that round"));
    }
  }
}

}  // namespace murmur
