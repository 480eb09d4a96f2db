// CollectiveGroup: one peer's end of a group running ring all-reduce and
// broadcast under changing membership (docs/collective.md). A Node owns one
// and forwards it the events of the collective message kinds
// (IsCollectiveMessage), its timers (OnTimer returns whether the timer was
// the group's) and OnPeerDown. Everything goes through the Host: messages
// through Host::Send, timeouts through Host timers and Host::now(); no
// sockets, clocks or threads, so the simulator and NetHost run it alike.
//
// Operations. AllReduce and Broadcast are tagged (epoch, seq): the epoch of
// the agreed membership and the k-th operation started in it. Every member
// must start the same operations in the same order with the same length;
// several may be in flight. Messages of another epoch's or an unknown
// operation are dropped and counted ("<prefix>.dropped_stale",
// "<prefix>.dropped_unexpected").
//
// Faults (PCCL, Prime Intellect 2025, "PCCL: Prime Collective
// Communications Library"; torchft's abort-and-retry over a quorum,
// hivemind's averager groups): a member lost mid-operation (OnPeerDown, or
// no progress for `timeout`) aborts every in-flight operation of the epoch
// on this peer and, through an Abort message, on every survivor: each
// caller gets kPeerLost with its buffer restored to its input, and the
// epoch is broken (later operations in it fail at once with kPeerLost).
// The caller then runs AgreeMembership and retries over the survivors
// (AllReduceWithRetry in retry.h does both). The commit barrier (Done from
// every member before completing) makes all survivors agree on whether an
// operation completed, as long as a lost peer's messages sent before it
// died are delivered before the loss is noticed (TCP, the simulator); a
// timeout on a live peer after the data phase can split that outcome, which
// the state hashes of state_sync.h detect (docs/collective.md, footguns).
//
// Membership without a master: AgreeMembership exchanges MembershipViews
// (a CRDT of (peer, incarnation, dead)) with every live peer until every
// live peer's latest view equals this peer's own; then the live peers,
// sorted, are the members of the next epoch (if at least `min_members`:
// the quorum rule), decided only once this peer's operations of the
// current epoch ended (one committing after the decision would be a step a
// joiner admitted by it counts as not done). Peers silent for `timeout`
// during the exchange are marked dead; views also go to current members
// marked dead, and a peer that sees itself marked dead refutes it with a
// higher incarnation (SWIM, Das et al. 2002). Joins (a new peer, or a
// restarted one) are announced with Join and admitted by the next
// agreement, i.e. at an operation boundary.
//
// Timers: one watchdog for all in-flight operations, one for the
// agreement, one for a joiner's Join; never one per operation.
//
// Bounds: no data is buffered for an operation that has not started (a
// sender waits for its successor's Ready); early Ready messages are kept
// for at most `seq_window` operations per sender and only for this or the
// next two epochs; views hold at most `max_members` peers; a Ready
// announcing more than `max_floats` is refused.
//
// Not thread-safe: call it from the node's event handlers only. Buffers
// passed to operations must stay alive and untouched until their callback.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "murmur/collective/collective.h"
#include "murmur/collective/membership_view.h"

namespace murmur::collective {

class RingOp;

class CollectiveGroup {
 public:
  // A founding member: every founder passes the same `members`, which
  // must include `self`. Starts decided at epoch 0.
  CollectiveGroup(CollectiveOptions options, PeerId self, std::vector<PeerId> members);
  // A joiner: announces itself to `contacts` at its first AgreeMembership
  // and is admitted by the members' next agreement. `incarnation` orders
  // this run after any earlier one of the same peer (e.g. Host::now().ns or
  // a restart counter; a too-low one is refuted upward).
  static std::unique_ptr<CollectiveGroup> Joining(CollectiveOptions options, PeerId self,
                                                  std::vector<PeerId> contacts,
                                                  uint64_t incarnation);
  ~CollectiveGroup();

  // Sums or averages `buffer` over the members, in place. `done` is called
  // exactly once (possibly before AllReduce returns): see OpCallback.
  void AllReduce(Host& host, std::span<float> buffer, ReduceOp op, OpCallback done);
  // The same with quantized chunks (collective.h: Quantization; every
  // member must pass the same width). kInvalidArgument for another width or
  // a residual of another length.
  void AllReduce(Host& host, std::span<float> buffer, ReduceOp op, Quantization quantization,
                 OpCallback done);
  // Copies `root`'s buffer into every member's. REQUIRES: same length.
  void Broadcast(Host& host, std::span<float> buffer, PeerId root, OpCallback done);
  // Agrees on the next epoch's members; `done` runs once it is decided.
  // Joins an agreement in progress rather than starting another.
  void AgreeMembership(Host& host, OpCallback done);

  // Event forwarding. OnMessage takes any message IsCollectiveMessage
  // accepts; OnTimer returns false for a timer that is not the group's.
  void OnMessage(Host& host, PeerId from, std::span<const uint8_t> bytes);
  bool OnTimer(Host& host, TimerId timer);
  void OnPeerDown(Host& host, PeerId peer);

  // Operations fail with kPeerLost or kUnavailable until AgreeMembership.
  bool needs_agreement() const { return broken_ || agreeing_ || joining_; }
  bool agreeing() const { return agreeing_ || joining_; }
  uint32_t epoch() const { return epoch_; }
  // The members of the current epoch, sorted.
  const std::vector<PeerId>& members() const { return members_; }
  const MembershipView& view() const { return view_; }
  size_t in_flight() const { return ops_.size(); }
  bool has_pending_joins() const { return !pending_joins_.empty(); }
  PeerId self() const { return self_; }
  // How often this peer learned that the group left it out of an epoch
  // (a member that holds it dead told it Evicted: it crashed and came
  // back as a founder, or was decided out while silent). Each time the group turns itself into a
  // joiner (as Joining, under a higher incarnation, contacting every peer
  // it knew of) and ends the operations and agreement in flight with
  // kAborted; the caller must take the shared state from the members
  // before it contributes again, then AgreeMembership to be admitted.
  uint64_t evictions() const { return evictions_; }
  // The options it was made with.
  const CollectiveOptions& options() const { return options_; }
  // Bytes of the operations' messages this peer sent (Ready, chunks, Done),
  // since construction: what a caller measures an exchange's traffic with.
  uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  // A Ready, Done or Abort that came before this peer started the
  // operation (or decided its epoch): kept, bounded, and replayed at the
  // start (Ready, Done) or at the decision (Abort). A broadcast's root and
  // the members before the last send Done without waiting for the last
  // member, so over a retry the Done can reach a member still agreeing.
  struct EarlyMessage {
    PeerId from;
    OpTag tag;
    MessageKind kind = MessageKind::kCollectiveReady;
    ReadyBody body;             // kCollectiveReady
    std::vector<PeerId> lost;   // kCollectiveAbort
  };
  enum class TimerPurpose : uint8_t { kOp, kAgreement, kJoin };

  void StartOp(Host& host, OpKind kind, std::span<float> buffer, ReduceOp reduce, PeerId root,
               Quantization quantization, OpCallback done);
  void HandleReady(Host& host, PeerId from, OpTag tag, const ReadyBody& body);
  void HandleChunk(Host& host, PeerId from, OpTag tag, std::span<const uint8_t> bytes,
                   bool quantized);
  void HandleDone(Host& host, PeerId from, OpTag tag);
  void HandleAbort(Host& host, PeerId from, OpTag tag, std::span<const PeerId> lost);
  void MaybeCommit(Host& host, OpTag tag);
  // Keeps an early message if the window allows; false when dropped.
  bool KeepEarly(Host& host, EarlyMessage message);
  // Replays the early Ready and Done of `tag` (just started).
  void ReplayEarly(Host& host, OpTag tag);
  // Applies the early Aborts of the epoch just decided.
  void ApplyEarlyAborts(Host& host);
  // Aborts the in-flight operations `tags` (restoring their buffers), marks
  // the epochs broken, and tells the other members when `tell_others`.
  void AbortOps(Host& host, const std::vector<OpTag>& tags, std::span<const PeerId> lost,
                bool tell_others);
  void ArmOpWatchdog(Host& host, Duration after);
  void OnOpTimer(Host& host);
  void Count(Host& host, const char* what, int64_t n = 1);
  bool IsStale(OpTag tag) const;
  // Backup storage for an operation of `floats` floats, from the spares.
  std::vector<float> TakeSpareBackup(size_t floats);
  void KeepSpareBackup(std::vector<float> storage);

  // agreement.cc
  void StartAgreement(Host& host, uint32_t target);
  // Enters (or moves) the agreement to `target`; true when this peer's
  // view must be sent again.
  bool BeginAgreement(Host& host, uint32_t target);
  void HandleView(Host& host, PeerId from, uint32_t epoch, std::span<const ViewEntry> entries);
  void HandleJoin(Host& host, PeerId from, uint64_t incarnation);
  // A member: answers a message of epoch <= ours from a peer we hold dead
  // and left out with Evicted; true when it did (the message is dropped).
  bool TellEvicted(Host& host, PeerId from, uint32_t epoch);
  void HandleEvicted(Host& host, PeerId from, uint32_t epoch, uint64_t incarnation);
  // Left out of `epoch` (`from` holds `incarnation` dead): turns into a
  // joiner; see evictions().
  void BecomeJoiner(Host& host, PeerId from, uint32_t epoch, uint64_t incarnation);
  void SendView(Host& host);
  void RefuteIfDead();
  void MaybeDecide(Host& host);
  void OnAgreementTimer(Host& host);
  void SendJoins(Host& host);

  const CollectiveOptions options_;
  const PeerId self_;
  uint64_t incarnation_ = 0;
  uint32_t epoch_ = 0;
  uint32_t next_seq_ = 0;
  std::vector<PeerId> members_;
  bool broken_ = false;  // an operation of epoch_ was aborted
  bool op_watchdog_armed_ = false;
  uint64_t bytes_sent_ = 0;
  uint64_t evictions_ = 0;
  // Evicted notices for epochs above evicted_at_epoch_ (this peer's epoch
  // when they came): sender -> (highest epoch, highest incarnation).
  uint32_t evicted_at_epoch_ = 0;
  std::map<PeerId, std::pair<uint32_t, uint64_t>> evicted_by_;
  std::map<OpTag, std::unique_ptr<RingOp>> ops_;
  // Backup storage of ended operations (RingOp::TakeBackup), at most
  // kSpareBackups: the next operation copies its buffer into pages that
  // are already mapped (a long buffer's fresh backup cost more than its
  // transfer on loopback). The price: between operations the group holds
  // as many floats as its largest recent buffers (one, unless several
  // operations were in flight at once).
  static constexpr size_t kSpareBackups = 2;
  std::vector<std::vector<float>> spare_backups_;
  std::vector<EarlyMessage> early_;
  std::map<TimerId, std::pair<TimerPurpose, OpTag>> timers_;

  MembershipView view_;
  bool agreeing_ = false;
  bool joining_ = false;
  uint32_t target_epoch_ = 0;
  SimTime last_agreement_progress_;
  std::map<PeerId, MembershipView> last_views_;
  std::vector<ViewEntry> pending_joins_;
  std::vector<PeerId> contacts_;  // a joiner's
  std::vector<OpCallback> agree_callbacks_;
};

}  // namespace murmur::collective
