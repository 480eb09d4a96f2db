// The kernel half of admission control's bans (admission.h): a classic BPF
// socket filter (McCanne and Jacobson, 1993, "The BSD Packet Filter: a new
// architecture for user-level packet capture") on the listening socket that
// drops every TCP segment from a banned IPv4 source address, SYNs
// included, before the kernel makes a connection for it: a banned
// address's reconnect loop then costs the process no accept, no close and
// no wakeup (its SYNs go unanswered and its connects time out). Attaching
// a filter needs no privilege (SO_ATTACH_FILTER); connections accepted
// later inherit the filter of their time (harmless: it only drops banned
// sources).
//
// Both families: the program reads the network header's version nibble
// (SKF_NET_OFF) and then the IPv4 source word or the IPv6 source's four
// words, so an IPv4-mapped connection on a dual-stack listener is matched
// by its IPv4 address and a native IPv6 one by its IPv6 address. (An IPv6
// address with a zone, "fe80::1%eth0", is not bannable here: its bans are
// enforced at accept, costing an accept and a close each.) Not thread-safe
// per socket.
#pragma once

#include <linux/filter.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur::net {

// The IPv4 address (host byte order) of `address` ("1.2.3.4" or an
// IPv4-mapped "::ffff:1.2.3.4"); nullopt for IPv6 or anything else.
std::optional<uint32_t> BannableIpv4(const std::string& address);

// An IPv6 address's 16 bytes, in network order.
using Ipv6Address = std::array<uint8_t, 16>;

// The IPv6 address of `address` ("2001:db8::1", "::1"); nullopt for an
// IPv4-mapped one (BannableIpv4 takes those), IPv4, a zoned address or
// anything else.
std::optional<Ipv6Address> BannableIpv6(const std::string& address);

// The filter program: pass everything except IPv4 segments whose source is
// in `banned` (host byte order) and IPv6 segments whose source is in
// `banned6`. Without `banned6`, the IPv4 program alone (IPv6 passes).
// REQUIRES: banned.size() + banned6.size() <= kMaxBanned.
std::vector<sock_filter> BanFilterProgram(std::span<const uint32_t> banned,
                                          std::span<const Ipv6Address> banned6 = {});

// Attaches BanFilterProgram(banned, banned6) to socket `fd`, replacing any
// filter it has; with both empty, detaches it. kUnavailable when the
// kernel refuses (the message names the errno).
Status SetBanFilter(int fd, std::span<const uint32_t> banned,
                    std::span<const Ipv6Address> banned6 = {});

}  // namespace murmur::net
