#include "murmur/runtime/admission.h"

#include <algorithm>

#include "murmur/core/check.h"

namespace murmur::net {

std::string_view AdmissionControl::VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAdmit: return "admitted";
    case Verdict::kTooManyHandshakes: return "too_many_handshakes";
    case Verdict::kTooManyFromAddress: return "too_many_from_address";
    case Verdict::kRateLimited: return "handshake_rate";
    case Verdict::kTooManyAddresses: return "too_many_addresses";
    case Verdict::kBanned: return "banned";
  }
  return "unknown";
}

AdmissionControl::AdmissionControl(const AdmissionLimits& limits) : limits_(limits) {
  MURMUR_CHECK(limits.max_unauthenticated > 0 && limits.max_unauthenticated_per_address > 0 &&
               limits.handshake_burst > 0 && limits.handshake_interval.ns > 0 &&
               limits.max_tracked_addresses > 0 && limits.cookie_rotation.ns > 0 &&
               limits.ban_window.ns > 0 && limits.ban_duration.ns > 0 &&
               limits.max_banned > 0 && limits.max_banned <= kMaxBanned);
}

bool AdmissionControl::UnderLoad(const std::string& address, SimTime now) const {
  if (in_handshake_ > limits_.cookie_above) return true;
  auto it = addresses_.find(address);
  if (it == addresses_.end()) return false;
  const int64_t allowance =
      static_cast<int64_t>(limits_.handshake_burst - 1) * limits_.handshake_interval.ns;
  return (it->second.tat - now).ns > allowance / 2;
}

size_t AdmissionControl::in_handshake(const std::string& address) const {
  auto it = addresses_.find(address);
  return it == addresses_.end() ? 0 : it->second.in_handshake;
}

void AdmissionControl::ForgetIdle(SimTime now) {
  std::erase_if(addresses_, [&](const auto& entry) { return Idle(entry.second, now); });
}

void AdmissionControl::PeerClosed(const std::string& address) {
  auto it = authenticated_.find(address);
  MURMUR_CHECK(it != authenticated_.end() && it->second > 0);
  if (--it->second == 0) authenticated_.erase(it);
}

bool AdmissionControl::ExpireBans(SimTime now) {
  const size_t erased = std::erase_if(banned_, [&](const auto& ban) { return ban.second <= now; });
  if (erased > 0) bans_changed_ = true;
  return erased > 0;
}

void AdmissionControl::Refused(const std::string& address, Address& a, SimTime now) {
  if (limits_.ban_after_refusals == 0) return;
  if (now - a.refused_since > limits_.ban_window) {
    a.refused_since = now;
    a.refused = 0;
  }
  if (++a.refused < limits_.ban_after_refusals || banned_.size() >= limits_.max_banned ||
      authenticated_.contains(address)) {
    return;
  }
  banned_[address] = now + limits_.ban_duration;
  bans_changed_ = true;
  a.refused = 0;
  a.refused_since = now;
}

AdmissionControl::Verdict AdmissionControl::Admit(const std::string& address, SimTime now) {
  if (!banned_.empty()) {
    auto ban = banned_.find(address);
    if (ban != banned_.end()) {
      if (now < ban->second) return Verdict::kBanned;
      banned_.erase(ban);
      bans_changed_ = true;
    }
  }
  if (in_handshake_ >= limits_.max_unauthenticated) return Verdict::kTooManyHandshakes;
  auto it = addresses_.find(address);
  if (it == addresses_.end()) {
    // Sweeping only when full keeps the common case O(1); a sweep frees
    // every address seen more than burst * interval ago.
    if (addresses_.size() >= limits_.max_tracked_addresses) ForgetIdle(now);
    if (addresses_.size() >= limits_.max_tracked_addresses) return Verdict::kTooManyAddresses;
    it = addresses_.emplace(address, Address{.in_handshake = 0, .tat = now, .refused_since = now})
             .first;
  }
  Address& a = it->second;
  if (a.in_handshake >= limits_.max_unauthenticated_per_address) {
    Refused(address, a, now);
    return Verdict::kTooManyFromAddress;
  }
  const SimTime tat = std::max(a.tat, now);
  const int64_t allowance =
      static_cast<int64_t>(limits_.handshake_burst - 1) * limits_.handshake_interval.ns;
  if ((tat - now).ns > allowance) {
    Refused(address, a, now);
    return Verdict::kRateLimited;
  }
  a.tat = tat + limits_.handshake_interval;
  ++a.in_handshake;
  ++in_handshake_;
  return Verdict::kAdmit;
}

void AdmissionControl::HandshakeEnded(const std::string& address, SimTime now) {
  auto it = addresses_.find(address);
  MURMUR_CHECK(it != addresses_.end() && it->second.in_handshake > 0 && in_handshake_ > 0);
  --it->second.in_handshake;
  --in_handshake_;
  if (Idle(it->second, now)) addresses_.erase(it);
}

}  // namespace murmur::net
