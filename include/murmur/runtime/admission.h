// Admission control for a NetHost's listener: which accepted TCP
// connections may start a handshake. Pure logic (no sockets, no clock:
// times are passed in), so it is unit-tested directly; NetHost asks it on
// every accept and tells it when a handshake ends either way.
//
// Limits, per source address (the IP, without the port) and in total:
//  * concurrent connections still in their handshake: at most
//    `max_unauthenticated_per_address` from one address and
//    `max_unauthenticated` from all, so one host holding idle sockets open
//    cannot take every handshake slot (libp2p's resource manager limits
//    connections per peer and per IP the same way);
//  * handshakes started per time: a token bucket per address (as GCRA,
//    the generic cell rate algorithm: Turner, 1986, "New directions in
//    communications"), `handshake_burst` at once, then one per
//    `handshake_interval`, so an address reconnecting in a loop gets a
//    bounded rate of handshakes, each costing the victim at most one key
//    pair, two X25519 and one Ed25519 signature plus verifications;
//  * tracked addresses: at most `max_tracked_addresses`; an address with
//    no connection in handshake and a full bucket is forgotten, so the map
//    holds only addresses seen within burst * interval.
//  * bans: an address refused `ban_after_refusals` times within
//    `ban_window` (a reconnect loop; a legitimate peer backs off long
//    before) is banned for `ban_duration`: Admit refuses it outright, and
//    NetHost drops its SYNs in the kernel before accept (ban_filter.h), so
//    the flood stops costing the process anything. At most `max_banned`
//    addresses at once (further ones are only refused, as before); a ban
//    always expires (ExpireBans), so a legitimate peer behind a banned
//    address (NAT) can come back. An address with an authenticated
//    connection is never banned: a legitimate peer lives there (every
//    peer of a one-host run shares 127.0.0.1, whose startup dials may be
//    refused by the per-address limits many times over).
// Under load, UnderLoad() says so and the connection wants a cookie
// (cookie.h) before it spends asymmetric crypto on a Hello: while more
// than `cookie_above` connections are in handshake in total, or while the
// Hello's address has used more than half of its burst. (Over TCP the
// three-way handshake has already proven the source address, which is
// what the cookie proves over UDP in WireGuard; here the cookie adds that
// a Hello under load costs the acceptor no key pair and no signature
// until its sender has made a round trip on that connection.) What the
// limits do not stop: many addresses (a botnet; over IPv6 each address of a /64
// counts apart, so a listener on IPv6 should be fronted by a firewall that
// groups prefixes), or an attacker sharing a legitimate
// peer's address (NAT), whose handshakes share its budget.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "murmur/core/ids.h"

namespace murmur::net {

// Most addresses banned at once: the kernel filter (ban_filter.h) jumps
// over the list with 8-bit offsets.
inline constexpr size_t kMaxBanned = 250;

struct AdmissionLimits {
  size_t max_unauthenticated = 64;             // in handshake, all addresses
  size_t max_unauthenticated_per_address = 8;  // in handshake, one address
  size_t handshake_burst = 16;                 // handshakes one address may start at once
  Duration handshake_interval = Duration::Seconds(0.05);  // then one per this (20/s)
  size_t max_tracked_addresses = 4096;
  // Hellos need a cookie while more than this many connections are in
  // handshake (0: always), or their address used over half its burst.
  size_t cookie_above = 16;
  Duration cookie_rotation = Duration::Seconds(120);  // cookie secret lifetime
  // Ban an address refused this many times (per-address or rate limit)
  // within `ban_window`; 0: never ban.
  size_t ban_after_refusals = 128;
  Duration ban_window = Duration::Seconds(1);
  Duration ban_duration = Duration::Seconds(10);
  size_t max_banned = 64;  // at most kMaxBanned (ban_filter.h's jump range)
};

class AdmissionControl {
 public:
  enum class Verdict {
    kAdmit,               // start the handshake; call HandshakeEnded later
    kTooManyHandshakes,   // max_unauthenticated in handshake already
    kTooManyFromAddress,  // max_unauthenticated_per_address from this address
    kRateLimited,         // the address's bucket is empty
    kTooManyAddresses,    // max_tracked_addresses active addresses
    kBanned,              // the address is banned (see the top of this file)
  };
  // The counter suffix NetHost uses ("net.rejected.<name>").
  static std::string_view VerdictName(Verdict verdict);

  // REQUIRES: every limit > 0 (cookie_above may be 0).
  explicit AdmissionControl(const AdmissionLimits& limits);

  // A connection from `address` arrived at `now`. kAdmit counts it as in
  // handshake until HandshakeEnded(address); any other verdict changes
  // nothing (the caller closes the socket). REQUIRES: `now` never goes
  // backwards between calls.
  Verdict Admit(const std::string& address, SimTime now);
  // A connection Admit admitted authenticated or closed.
  // REQUIRES: one call per admitted connection.
  void HandshakeEnded(const std::string& address, SimTime now);

  // A connection admitted from `address` authenticated, and later that
  // authenticated connection closed: while it is open the address is
  // never banned. REQUIRES: one PeerClosed per PeerAuthenticated.
  void PeerAuthenticated(const std::string& address) { ++authenticated_[address]; }
  void PeerClosed(const std::string& address);

  // Whether a Hello on a connection admitted from `address` must carry a
  // cookie (see the top of this file).
  bool UnderLoad(const std::string& address, SimTime now) const;

  // Lifts the bans that ended by `now`; returns whether any did.
  bool ExpireBans(SimTime now);
  // Banned addresses and when each ban ends.
  const std::unordered_map<std::string, SimTime>& banned() const { return banned_; }
  // Whether the ban list changed since the last call (a ban added or
  // lifted): NetHost then rebuilds its kernel filter.
  bool TakeBansChanged() { return std::exchange(bans_changed_, false); }

  size_t in_handshake() const { return in_handshake_; }
  size_t in_handshake(const std::string& address) const;
  size_t tracked_addresses() const { return addresses_.size(); }

 private:
  struct Address {
    size_t in_handshake = 0;
    // GCRA's theoretical arrival time: the bucket is full at `tat` and
    // admits while tat - now <= (burst - 1) * interval.
    SimTime tat;
    size_t refused = 0;      // refusals since `refused_since`
    SimTime refused_since;   // start of the current ban window
  };
  bool Idle(const Address& a, SimTime now) const { return a.in_handshake == 0 && a.tat <= now; }
  void ForgetIdle(SimTime now);
  // Counts a per-address refusal; bans the address past the threshold.
  void Refused(const std::string& address, Address& a, SimTime now);

  const AdmissionLimits limits_;
  std::unordered_map<std::string, Address> addresses_;
  std::unordered_map<std::string, SimTime> banned_;  // address -> end of its ban
  std::unordered_map<std::string, size_t> authenticated_;  // address -> open peer connections
  bool bans_changed_ = false;
  size_t in_handshake_ = 0;
};

}  // namespace murmur::net
