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
// IPv4 only: the program reads the network header's version nibble and
// source word (SKF_NET_OFF), so an IPv4-mapped connection on a dual-stack
// listener is matched too; IPv6 sources always pass (their bans are
// enforced at accept, costing an accept and a close each). Not
// thread-safe per socket.
#pragma once

#include <linux/filter.h>

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

// The filter program: pass everything except IPv4 segments whose source is
// in `banned` (host byte order). REQUIRES: banned.size() <= kMaxBanned.
std::vector<sock_filter> BanFilterProgram(std::span<const uint32_t> banned);

// Attaches BanFilterProgram(banned) to socket `fd`, replacing any filter
// it has; with `banned` empty, detaches it. kUnavailable when the kernel
// refuses (the message names the errno).
Status SetBanFilter(int fd, std::span<const uint32_t> banned);

}  // namespace murmur::net
