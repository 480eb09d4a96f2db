// Membership of a NetHost run (net_host.h), as pure logic: no sockets, no
// Asio, no clock (times are passed in). NetHost owns one Membership and
// asks it, for every slot (PeerId 0..num_slots-1) but its own:
//  * whose slot it is: a signed PeerRecord of the slot, from the first key
//    that claimed it (trust on first use, for the object's lifetime),
//    within the allowlist when there is one. Which record of that key:
//    one learned from a live authenticated handshake always replaces the
//    one held (the peer just proved it holds the key and is there); a
//    relayed (gossiped) one replaces it when it has a higher incarnation
//    (a restart), or the same incarnation and a later date, except over a
//    handshake's record while that peer is connected or when it keeps an
//    incarnation counter (incarnation > 0): then a same-incarnation copy
//    is an old record replayed, a decoy. A record dated more than
//    max_clock_skew after our clock is refused, so a record from the
//    future cannot freeze a slot at a stale address;
//  * whether to dial it: the lower slot of a pair dials the higher one,
//    at its recorded address, unless the pair is connected, a dial or a
//    redial is already under way, or the peer said Bye (a newer record of
//    it, i.e. a restart, clears that);
//  * when to redial: after a Backoff that doubles from backoff_min to
//    backoff_max, reset when the peer connects or moves;
//  * which of two connections of a pair to keep (both ends agree);
//  * when a connection is silent or a handshake slow (FailureDetector).
// The host tells it what happened (connected, disconnected, Bye, a dial
// started or ended) and does what it answers. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "murmur/core/bytes.h"
#include "murmur/core/ids.h"
#include "murmur/core/status.h"
#include "murmur/runtime/handshake.h"
#include "murmur/runtime/identity.h"

namespace murmur::net {

// Exponential backoff: Next() returns the delay before the next attempt and
// doubles the one after, up to `max`. REQUIRES: 0 < min <= max.
class Backoff {
 public:
  Backoff(Duration min, Duration max) : min_(min), max_(max), next_(min) {}
  Duration Next();
  void Reset() { next_ = min_; }
  // What Next() returns next.
  Duration peek() const { return next_; }

 private:
  Duration min_;
  Duration max_;
  Duration next_;
};

// Heartbeat-based failure detection (Chandra and Toueg, 1996, "Unreliable
// failure detectors for reliable distributed systems": an eventually
// accurate detector under partial synchrony; it may suspect a slow peer).
struct FailureDetector {
  Duration peer_timeout;       // silence after which a connection is closed
  Duration handshake_timeout;  // time a connection may spend authenticating
  // True when nothing arrived for more than peer_timeout.
  bool Silent(SimTime last_heard, SimTime now) const { return now - last_heard > peer_timeout; }
  // True when the handshake has taken more than handshake_timeout.
  bool HandshakeOverdue(SimTime opened_at, SimTime now) const {
    return now - opened_at > handshake_timeout;
  }
};

struct MembershipOptions {
  PeerId self;
  uint32_t num_slots = 0;
  Duration backoff_min = Duration::Seconds(0.1);
  Duration backoff_max = Duration::Seconds(5);
  Duration max_clock_skew = Duration::Seconds(60);  // future records beyond this are refused
};

// Where a record came from: a live authenticated handshake with its
// signer, or a Peers frame relayed by anyone (or a stored copy).
enum class RecordSource { kHandshake, kGossip };

class Membership {
 public:
  // What Learn() did with a record.
  enum class Verdict {
    kIgnored,      // our own slot, or out of range
    kNotAdmitted,  // the allowlist refuses the key for the slot
    kSlotTaken,    // another key holds the slot (`why` names both)
    kFuture,       // dated more than max_clock_skew after now_ms
    kStale,        // does not replace the record held
    kAccepted,     // now the slot's record: relay it, then DialIfDue
  };
  struct Learned {
    Verdict verdict;
    Status why;  // kAborted for kSlotTaken, Ok otherwise
  };
  // Which connection of a pair survives when a second one authenticates.
  enum class Keep { kExisting, kIncoming };

  // `allowlist` must outlive the membership; it may be empty (admit all).
  // REQUIRES: options.self < options.num_slots, 0 < backoff_min <= backoff_max.
  Membership(const MembershipOptions& options, const Allowlist& allowlist);

  // --- records ----------------------------------------------------------
  // Ok unless the slot's record is signed by another key than `record`'s:
  // then kAborted naming both keys. Ok for a slot out of range (the
  // handshake refuses those).
  Status CheckSlotKey(const PeerRecord& record) const;
  // Takes `record` if it is from the slot's key and replaces the held one
  // (see the class comment; `now_ms` is our Unix clock in milliseconds).
  // A record replacing that of a disconnected peer clears its Bye (a
  // restart); one with another address resets the slot's backoff. A
  // disconnected peer's record with another address or a later
  // incarnation (it restarted) also cancels the wait for a scheduled
  // redial, so it is dialed now rather than after up to backoff_max (the
  // old redial, when due, dials only if ShouldDial still says so).
  Learned Learn(const PeerRecord& record, RecordSource source, uint64_t now_ms);
  const std::optional<PeerRecord>& record(PeerId peer) const { return slots_[peer.value].record; }
  // A Peers frame's payload: a u32 count, `self_record`, then every record
  // held, in slot order.
  std::vector<uint8_t> EncodeKnown(const PeerRecord& self_record) const;

  // --- dial policy --------------------------------------------------------
  // True when this end dials `peer` (its slot is the lower).
  bool IsDialer(PeerId peer) const { return self_ < peer; }
  // True when `peer` is to be dialed now: this end is the dialer, the peer
  // is not connected, has a record, did not say Bye, and no dial or
  // redial is under way.
  bool ShouldDial(PeerId peer) const;
  // A dial of `peer` began / ended (connect failed, or the handshake
  // finished either way). While one is under way ShouldDial is false, so
  // one pair never races two dials.
  void DialStarted(PeerId peer) { slots_[peer.value].dialing = true; }
  void DialEnded(PeerId peer) { slots_[peer.value].dialing = false; }
  // Schedules a redial of `peer`: the delay to wait (the slot's backoff,
  // which then doubles), or nullopt when there is nothing to schedule
  // (this end is not the dialer, the peer said Bye, or one is scheduled).
  std::optional<Duration> ScheduleRedial(PeerId peer);
  // The scheduled redial is due: the caller dials if ShouldDial.
  void RedialDue(PeerId peer) { slots_[peer.value].redial_scheduled = false; }
  Duration backoff(PeerId peer) const { return slots_[peer.value].backoff.peek(); }

  // --- connections ----------------------------------------------------------
  // A second connection of the pair authenticated: both ends keep the one
  // the lower slot dialed; between two of the same kind, the incoming one
  // (the existing one is probably a dead incarnation not yet noticed).
  Keep ResolveDuplicate(PeerId peer, Role existing, Role incoming) const;
  // `peer` has an authenticated connection now / has none any more.
  void Connected(PeerId peer) { slots_[peer.value].connected = true; }
  void Disconnected(PeerId peer) { slots_[peer.value].connected = false; }
  // The pair's connection is established: resets the peer's backoff and
  // Bye; returns true when it had been connected before (a rejoin).
  bool Joined(PeerId peer);
  void SaidBye(PeerId peer) { slots_[peer.value].said_bye = true; }
  bool connected(PeerId peer) const { return slots_[peer.value].connected; }
  bool said_bye(PeerId peer) const { return slots_[peer.value].said_bye; }
  // Every slot but ours is connected.
  bool AllConnected() const;

  PeerId self() const { return self_; }
  uint32_t num_slots() const { return static_cast<uint32_t>(slots_.size()); }

 private:
  struct Slot {
    explicit Slot(const MembershipOptions& o) : backoff(o.backoff_min, o.backoff_max) {}
    std::optional<PeerRecord> record;
    bool record_from_handshake = false;
    bool connected = false;
    bool said_bye = false;
    bool ever_connected = false;
    Backoff backoff;
    bool redial_scheduled = false;
    bool dialing = false;
  };

  bool Replaces(const Slot& slot, const PeerRecord& record, RecordSource source) const;

  const PeerId self_;
  const uint64_t max_skew_ms_;
  const Allowlist& allowlist_;
  std::vector<Slot> slots_;
};

}  // namespace murmur::net
