#include "murmur/runtime/membership.h"

#include <algorithm>

#include "murmur/core/check.h"

namespace murmur::net {

Duration Backoff::Next() {
  const Duration delay = next_;
  next_ = std::min(Duration::Nanos(next_.ns * 2), max_);
  return delay;
}

Membership::Membership(const MembershipOptions& options, const Allowlist& allowlist)
    : self_(options.self),
      max_skew_ms_(static_cast<uint64_t>(std::max<int64_t>(options.max_clock_skew.ns, 0) /
                                         1'000'000)),
      allowlist_(allowlist),
      slots_(options.num_slots, Slot(options)) {
  MURMUR_CHECK(options.self.value < options.num_slots);
  MURMUR_CHECK(options.backoff_min.ns > 0 && options.backoff_min <= options.backoff_max);
}

Status Membership::CheckSlotKey(const PeerRecord& record) const {
  if (record.slot.value >= slots_.size()) return Status::Ok();
  const Slot& slot = slots_[record.slot.value];
  if (!slot.record || slot.record->key == record.key) return Status::Ok();
  return Status::Aborted("slot ", record.slot, " belongs to ", PeerName(slot.record->key),
                         "; refusing ", PeerName(record.key), "'s claim to it");
}

bool Membership::Replaces(const Slot& slot, const PeerRecord& record, RecordSource source) const {
  if (!slot.record || source == RecordSource::kHandshake) return true;
  const PeerRecord& held = *slot.record;
  if (record.incarnation != held.incarnation) return record.incarnation > held.incarnation;
  // A relayed copy of the same incarnation may be an old or future-dated
  // record of the key replayed as a decoy: it does not override what the
  // peer said in a live session while that session is up, nor ever when
  // the peer keeps an incarnation counter (a restart would have bumped
  // it). Without counters a later date after a disconnect is all there
  // is to tell a restart.
  if (slot.record_from_handshake && (slot.connected || held.incarnation > 0)) return false;
  return record.issued_ms > held.issued_ms;
}

Membership::Learned Membership::Learn(const PeerRecord& record, RecordSource source,
                                      uint64_t now_ms) {
  if (record.slot == self_ || record.slot.value >= slots_.size()) {
    return {Verdict::kIgnored, Status::Ok()};
  }
  if (!allowlist_.Admit(record.key, record.slot).ok()) return {Verdict::kNotAdmitted, Status::Ok()};
  if (Status s = CheckSlotKey(record); !s.ok()) return {Verdict::kSlotTaken, std::move(s)};
  if (record.issued_ms > now_ms && record.issued_ms - now_ms > max_skew_ms_) {
    return {Verdict::kFuture, Status::Ok()};
  }
  Slot& slot = slots_[record.slot.value];
  if (source == RecordSource::kHandshake && slot.record &&
      slot.record->incarnation == record.incarnation &&
      slot.record->issued_ms == record.issued_ms && slot.record->address == record.address) {
    slot.record_from_handshake = true;  // confirmed live; nothing new to relay
    return {Verdict::kStale, Status::Ok()};
  }
  if (!Replaces(slot, record, source)) return {Verdict::kStale, Status::Ok()};
  const bool moved = slot.record && slot.record->address != record.address;
  const bool restarted = moved || (slot.record && record.incarnation > slot.record->incarnation);
  // A newer record is a new incarnation: a peer that left with Bye and
  // restarted is to be dialed again.
  if (slot.record && !slot.connected) slot.said_bye = false;
  slot.record = record;
  slot.record_from_handshake = source == RecordSource::kHandshake;
  if (moved) slot.backoff.Reset();
  if (restarted && !slot.connected) slot.redial_scheduled = false;
  return {Verdict::kAccepted, Status::Ok()};
}

std::vector<uint8_t> Membership::EncodeKnown(const PeerRecord& self_record) const {
  ByteWriter out;
  uint32_t count = 0;
  for (const Slot& s : slots_) count += s.record ? 1 : 0;
  out.WriteU32(count + 1);
  self_record.Encode(out);
  for (const Slot& s : slots_) {
    if (s.record) s.record->Encode(out);
  }
  return std::move(out).Take();
}

bool Membership::ShouldDial(PeerId peer) const {
  const Slot& slot = slots_[peer.value];
  return IsDialer(peer) && !slot.connected && !slot.said_bye && !slot.redial_scheduled &&
         !slot.dialing && slot.record.has_value();
}

std::optional<Duration> Membership::ScheduleRedial(PeerId peer) {
  Slot& slot = slots_[peer.value];
  if (!IsDialer(peer) || slot.said_bye || slot.redial_scheduled) return std::nullopt;
  slot.redial_scheduled = true;
  return slot.backoff.Next();
}

Membership::Keep Membership::ResolveDuplicate(PeerId peer, Role existing, Role incoming) const {
  const bool self_is_lower = self_ < peer;
  auto dialed_by_lower = [&](Role role) { return (role == Role::kDialer) == self_is_lower; };
  if (dialed_by_lower(incoming) || !dialed_by_lower(existing)) return Keep::kIncoming;
  return Keep::kExisting;
}

bool Membership::Joined(PeerId peer) {
  Slot& slot = slots_[peer.value];
  slot.backoff.Reset();
  const bool rejoined = slot.ever_connected;
  slot.ever_connected = true;
  slot.said_bye = false;
  return rejoined;
}

bool Membership::AllConnected() const {
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (i != self_.value && !slots_[i].connected) return false;
  }
  return true;
}

}  // namespace murmur::net
