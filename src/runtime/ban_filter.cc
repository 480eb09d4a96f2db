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

std::vector<sock_filter> BanFilterProgram(std::span<const uint32_t> banned) {
  MURMUR_CHECK(banned.size() <= kMaxBanned);
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
  return program;
}

Status SetBanFilter(int fd, std::span<const uint32_t> banned) {
  if (banned.empty()) {
    int unused = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0 &&
        errno != ENOENT) {
      return Status::Unavailable("cannot detach the ban filter: ", std::strerror(errno));
    }
    return Status::Ok();
  }
  std::vector<sock_filter> program = BanFilterProgram(banned);
  const sock_fprog fprog{.len = static_cast<unsigned short>(program.size()),
                         .filter = program.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0) {
    return Status::Unavailable("cannot attach a ban filter of ", banned.size(),
                               " addresses: ", std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace murmur::net
