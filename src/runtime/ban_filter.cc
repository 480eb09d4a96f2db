#include "murmur/runtime/ban_filter.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "murmur/core/check.h"
#include "murmur/runtime/admission.h"

namespace murmur::net {

std::optional<uint32_t> BannableIpv4(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return ntohl(v4.s_addr);
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1 && IN6_IS_ADDR_V4MAPPED(&v6)) {
    uint32_t word;
    std::memcpy(&word, &v6.s6_addr[12], 4);
    return ntohl(word);
  }
  return std::nullopt;
}

std::optional<Ipv6Address> BannableIpv6(const std::string& address) {
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1 || IN6_IS_ADDR_V4MAPPED(&v6)) {
    return std::nullopt;
  }
  Ipv6Address bytes;
  std::memcpy(bytes.data(), v6.s6_addr, bytes.size());
  return bytes;
}

namespace {

// Word `k` (0..3) of `a` as BPF_LD|BPF_W loads it: big-endian.
uint32_t WordOf(const Ipv6Address& a, size_t k) {
  return (uint32_t{a[4 * k]} << 24) | (uint32_t{a[4 * k + 1]} << 16) |
         (uint32_t{a[4 * k + 2]} << 8) | uint32_t{a[4 * k + 3]};
}

// Appends the IPv6 part, entered with A = the version nibble (0xf0-masked):
// not IPv6 passes; an IPv6 source (bytes 8..23 of the header) equal to an
// entry's four words drops. Each entry is 9 instructions whose short jumps
// stay inside it; a match takes a BPF_JA (a 32-bit offset) to "drop".
void AppendIpv6Part(std::span<const Ipv6Address> banned6, std::vector<sock_filter>& program) {
  program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x60, 1, 0));
  const size_t to_pass = program.size();
  program.push_back(BPF_STMT(BPF_JMP | BPF_JA, 0));  // not IPv6: to "pass" (set below)
  std::vector<size_t> to_drop;
  for (const Ipv6Address& entry : banned6) {
    for (size_t k = 0; k < 4; ++k) {
      program.push_back(
          BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_NET_OFF + 8 + 4 * k)));
      // A word that differs skips the rest of the entry (to the next one).
      program.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WordOf(entry, k), 0,
                                 static_cast<uint8_t>(7 - 2 * k)));
    }
    to_drop.push_back(program.size());
    program.push_back(BPF_STMT(BPF_JMP | BPF_JA, 0));
  }
  const size_t pass = program.size();
  program.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));  // pass, whole segment
  program.push_back(BPF_STMT(BPF_RET | BPF_K, 0));            // drop
  program[to_pass].k = static_cast<uint32_t>(pass - to_pass - 1);
  for (size_t at : to_drop) program[at].k = static_cast<uint32_t>(pass + 1 - at - 1);
}

}  // namespace

std::vector<sock_filter> BanFilterProgram(std::span<const uint32_t> banned,
                                          std::span<const Ipv6Address> banned6) {
  MURMUR_CHECK(banned.size() + banned6.size() <= kMaxBanned);
  const auto n = static_cast<uint8_t>(banned.size());
  // Offsets are relative to the network header: a TCP socket's filter runs
  // with the packet's data at its transport header. A load that fails
  // (cannot happen for a received IP packet) would drop the segment.
  std::vector<sock_filter> program = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, static_cast<uint32_t>(SKF_NET_OFF)),  // version, IHL
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
      // Not IPv4: jump over the source load and the list, to "pass".
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, static_cast<uint8_t>(n + 1)),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_NET_OFF + 12)),  // source
  };
  // Entry i jumps over the n - 1 - i entries after it and "pass" to "drop".
  for (size_t i = 0; i < banned.size(); ++i) {
    program.push_back(
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, banned[i], static_cast<uint8_t>(n - i), 0));
  }
  program.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffffu));  // pass, whole segment
  program.push_back(BPF_STMT(BPF_RET | BPF_K, 0));            // drop
  if (banned6.empty()) return program;
  // Not IPv4 now goes on to the IPv6 part, after the two returns: A still
  // holds the version nibble there.
  program[2].jf = static_cast<uint8_t>(n + 3);
  AppendIpv6Part(banned6, program);
  return program;
}

Status SetBanFilter(int fd, std::span<const uint32_t> banned,
                    std::span<const Ipv6Address> banned6) {
  if (banned.empty() && banned6.empty()) {
    int unused = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0 &&
        errno != ENOENT) {
      return Status::Unavailable("cannot detach the ban filter: ", std::strerror(errno));
    }
    return Status::Ok();
  }
  std::vector<sock_filter> program = BanFilterProgram(banned, banned6);
  const sock_fprog fprog{.len = static_cast<unsigned short>(program.size()),
                         .filter = program.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0) {
    return Status::Unavailable("cannot attach a ban filter of ", banned.size() + banned6.size(),
                               " addresses: ", std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace murmur::net
