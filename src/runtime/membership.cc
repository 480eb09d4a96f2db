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
    : self_(options.self), allowlist_(allowlist), slots_(options.num_slots, Slot(options)) {
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

Membership::Learned Membership::Learn(const PeerRecord& record) {
  if (record.slot == self_ || record.slot.value >= slots_.size()) {
    return {Verdict::kIgnored, Status::Ok()};
  }
  if (!allowlist_.Admit(record.key, record.slot).ok()) return {Verdict::kNotAdmitted, Status::Ok()};
  if (Status s = CheckSlotKey(record); !s.ok()) return {Verdict::kSlotTaken, std::move(s)};
  Slot& slot = slots_[record.slot.value];
  if (slot.record && slot.record->issued_ms >= record.issued_ms) {
    return {Verdict::kStale, Status::Ok()};
  }
  const bool moved = slot.record && slot.record->address != record.address;
  // A newer record is a new incarnation: a peer that left with Bye and
  // restarted is to be dialed again.
  if (slot.record && !slot.connected) slot.said_bye = false;
  slot.record = record;
  if (moved) slot.backoff.Reset();
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
