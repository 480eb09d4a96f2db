// The synchronous round skeleton of the decentralized nodes (D-PSGD,
// DFedSAM, Epidemic Learning, the Byzantine D-PSGD node): per round, the
// peers expected to send, an inbox of what they sent, a timeout, and a
// "round complete" signal once every expected sender's model is in.
//
// Rounds are numbered from 1; the open round is the one being collected
// (one more than the rounds closed so far). Each arriving model is one of:
//   stored         for the open round or one of the next `window` rounds,
//                  from an expected sender of that round, the first time;
//   late           for a round already closed (ignored);
//   duplicate      a second model of the same sender and round (ignored,
//                  the first one stands);
//   beyond window  for a round after open + window (dropped but for each
//                  sender's newest one, below, so an insider cannot grow a
//                  peer's memory without bound);
//   stranger       from a peer not expected to send for that round (dropped).
// Every outcome but "stored" is counted as "<name>.late_models",
// "<name>.duplicate_models", "<name>.beyond_window_models" and
// "<name>.stranger_models", and a timeout as "<name>.<timeout_counter>"
// (the counters D-PSGD, DFedSAM and Epidemic Learning always reported keep
// their names). An empty name counts nothing.
//
// Fault semantics: with a timeout, a round closes with whatever arrived
// `timeout` after Wait(); a missing sender is then simply absent from
// Close()'s result. A sender the failure detector declared down
// (MarkDown, from Node::OnPeerDown) is not waited for from then on, until a
// model of it arrives again, even a late one (it came back; it catches up
// within a round or two, and the timeout still bounds the wait).
//
// Catching up (issue 18): a peer that restarted, or fell behind, sees its
// expected senders' models for rounds at least two ahead of its open round
// (in lock step a sender can be at most one round ahead, so two means they
// stopped waiting for this peer; `catch_up_gap` rounds where senders drift
// further apart). Once every expected sender that is up is that far
// ahead, CatchUpRound() names the least advanced sender's newest
// round r, and JumpTo(r) skips to it: the caller adopts the senders' newest
// models as its start and rejoins the others at round r; a sender already
// past r is not waited for until the round of its newest model (it closed
// the rounds before without this peer). For that the newest model of each expected sender
// beyond the window is kept (one per sender, so at most (window + 2) x
// expected senders models are held), and filed for its round once the
// window reaches it. An insider alone cannot make a peer jump while any
// other expected sender is up and has not reached that round (where the
// probe round expects one sender, as on SGP's 1-peer exponential graph,
// that sender alone can).
//
// Not thread-safe: one node's handlers use it.
//
// CHOCO-SGD (choco.h) does not use it: its messages are a per-neighbour
// stream of deltas applied in sequence, where one snapshot can stand for
// many rounds, so its round completes when every neighbour's copy is
// current rather than when every round-r message is in; it bounds what it
// buffers the same way (deltas more than 4 rounds ahead are dropped).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "murmur/core/host.h"
#include "murmur/core/ids.h"
#include "murmur/core/snapshot.h"
#include "murmur/protocol/model_message.h"

namespace murmur {

struct RoundBarrierOptions {
  std::string name;                               // counter prefix; empty: no counters
  std::string timeout_counter = "round_timeouts";  // counted as "<name>.<timeout_counter>"
  // Rounds after the open one whose models are buffered; REQUIRES >= 0.
  int64_t window = 16;
  Duration timeout;  // 0: wait forever
  // Not waiting for a sender whose newest model held is for open_round() + 2
  // or later: it moved on without this peer and will not send the open
  // round's model (over an ordered transport that model would have come
  // first). For peers that may resume from persisted states of different
  // rounds (`murmur peer --persist-every`), where the peers behind would
  // otherwise wait out a timeout every round for the ones ahead, and those
  // for them, without ever getting back in step. Off: such a sender is
  // waited for (the simulator may reorder a sender's messages).
  bool skip_senders_ahead = false;
  // CatchUpRound's gap: senders this many rounds or more ahead of the open
  // round have moved on without this peer. 2 where a sender waits for this
  // peer every round (an undirected graph in lock step is at most one round
  // apart); more where a sender waits for it only through others (SGP's
  // directed graphs, whose peers drift apart by up to the graph's
  // diameter in rounds). REQUIRES >= 2.
  int64_t catch_up_gap = 2;
};

// What happened to one arriving model.
enum class Arrival { kStored, kLate, kDuplicate, kBeyondWindow, kStranger };

// The models of a closed round, by sender (PeerId order).
using ArrivedModels = std::map<PeerId, ReceivedModel>;

class RoundBarrier {
 public:
  // The sorted, distinct peers expected to send for a round. Called at most
  // once per round (the first time the round is touched) and cached.
  using ExpectedSenders = std::function<std::vector<PeerId>(Round)>;

  // `expected` must stay callable for the barrier's lifetime.
  RoundBarrier(RoundBarrierOptions options, ExpectedSenders expected);
  // The same sorted senders every round.
  RoundBarrier(RoundBarrierOptions options, std::vector<PeerId> senders);

  // The round being collected: rounds closed so far + 1.
  Round open_round() const { return open_; }
  // True between Wait() and Close().
  bool waiting() const { return waiting_; }

  // The peer has done its part of the open round and now waits for the
  // others: arms the timeout, if any. Then check complete().
  void Wait(Host& host);

  // Files `model`, sent by `from` for `round`, and counts the outcome.
  Arrival Add(MetricsSink& metrics, Round round, PeerId from, ReceivedModel model);

  // Every expected sender of the open round has arrived.
  bool complete();
  // Whether `timer` is the live timeout of the open round while waiting;
  // counts the timeout when it is. The caller then closes the round.
  bool TimedOut(MetricsSink& metrics, TimerId timer);

  // Closes the open round: returns what arrived for it, by sender (in
  // PeerId order), and opens the next one; stops waiting.
  ArrivedModels Close();

  // Drops everything buffered (a peer that stopped for good).
  void Clear() {
    rounds_.clear();
    ahead_.clear();
    excused_.clear();
  }

  // The failure detector declared `peer` down: rounds stop waiting for it
  // (complete() no longer counts it) until a model of it arrives again.
  void MarkDown(PeerId peer) { down_.insert(peer); }
  // It is up again (Node::OnPeerUp, the runtime's): rounds wait for it
  // again, but for a round it has already moved past (a model of a later
  // round of it is held): it came back and caught up by a jump, skipping
  // rounds, and over the runtime's ordered links that round's model would
  // have come first. Only for peers that came back: the simulator raises no
  // OnPeerUp, and may reorder a sender's messages.
  void MarkUp(PeerId peer) {
    down_.erase(peer);
    returned_.insert(peer);
  }
  bool is_down(PeerId peer) const { return down_.count(peer) != 0; }

  // When every expected sender that is not down has sent a model for round
  // open_round() + 2 or later (and at least one is up): the least advanced
  // one's newest round, which this peer should jump to. Otherwise none.
  std::optional<Round> CatchUpRound();
  // Skips to round `r` (> open_round()): drops every buffered round before
  // it and opens it, not waiting; returns each sender's newest model of
  // round r or later (copies; those of round r also stay filed for it).
  ArrivedModels JumpTo(Round r);

  // Snapshots (core/snapshot.h, round_barrier_snapshot.cc): the open round,
  // the wait and its timer, every buffered model, the peers down or excused
  // and the models kept ahead. Restore reads into a barrier built with the
  // same options and senders; every model must hold `model_size` floats,
  // come from a sender its round expects, and buffered rounds lie inside
  // the window (later ones kept ahead), else the reader fails (kCorrupt).
  // Each buffered round's saved senders must also be the ones this
  // barrier's ExpectedSenders gives for that round, and each model kept
  // ahead come from one of them: a snapshot of another peer or topology
  // fails (kCorrupt, naming the round and both sender lists). The function
  // is called only for rounds in [open, open + window] and rounds kept
  // ahead, after open >= 1 and those bounds are checked, and only for
  // rounds the snapshot holds, as Touch and Add would.
  void Save(SnapshotWriter& out) const;
  void Restore(SnapshotReader& in, size_t model_size);

  // Models held across all buffered rounds.
  size_t buffered_models() const;
  size_t buffered_rounds() const { return rounds_.size(); }

 private:
  struct RoundInbox {
    std::vector<PeerId> expected;
    ArrivedModels arrived;
  };
  RoundInbox& Touch(Round round);
  // Restore's last step: the saved senders against expected_ (see Save).
  void CheckSendersMatch(SnapshotReader& in) const;
  // Files the models kept ahead whose rounds are now inside the window and
  // forgets those of rounds already closed.
  void FileAheadModels();
  // Each sender's newest model held (buffered or kept ahead), and its round.
  std::map<PeerId, std::pair<Round, const ReceivedModel*>> NewestModels() const;
  void CountOutcome(MetricsSink& metrics, Arrival arrival) const;

  const RoundBarrierOptions options_;
  const ExpectedSenders expected_;
  std::string counter_names_[5];  // by Arrival; [kStored] unused
  std::string timeout_counter_;
  Round open_{1};
  bool waiting_ = false;
  TimerId timer_;
  std::map<Round, RoundInbox> rounds_;
  std::set<PeerId> down_;
  std::set<PeerId> returned_;  // MarkUp'ed
  // Senders not waited for before the round given (see JumpTo).
  std::map<PeerId, Round> excused_;
  // Beyond the window: each expected sender's newest model and its round.
  std::map<PeerId, std::pair<Round, ReceivedModel>> ahead_;
};

}  // namespace murmur
