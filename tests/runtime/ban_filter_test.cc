// The kernel ban filter (ban_filter.h) on real loopback sockets: SYNs from a
// banned IPv4 or IPv6 source are dropped before accept (the connect stays
// pending), other sources pass, and detaching lets the banned source in.
#include "murmur/runtime/ban_filter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "murmur/runtime/admission.h"

namespace murmur::net {
namespace {

// A listening socket on 127.0.0.1 (or [::], dual-stack), kernel port.
class Listener {
 public:
  explicit Listener(int family) {
    fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (family == AF_INET) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    } else {
      const int off = 0;
      ::setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_addr = in6addr_any;
      ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ok_ = ok_ && ::listen(fd_, 64) == 0;
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                              : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  }
  ~Listener() { ::close(fd_); }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  bool ok() const { return ok_; }
  // Accepts one queued connection; false when none is queued.
  bool AcceptOne() {
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK);
    if (c < 0) return false;
    ::close(c);
    return true;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  bool ok_ = false;
};

// A non-blocking connect from `source` (IPv4) to 127.0.0.1:`port`.
class Dial {
 public:
  Dial(const char* source, uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in from{}, to{};
    from.sin_family = to.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
    started_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 ||
               errno == EINPROGRESS;
  }
  // From ::1 to [::1]:`port`.
  explicit Dial(uint16_t port) {
    fd_ = ::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_addr = in6addr_loopback;
    to.sin6_port = htons(port);
    started_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 ||
               errno == EINPROGRESS;
  }
  ~Dial() { ::close(fd_); }
  // Whether the connect completed within `ms`.
  bool Connected(int ms) {
    pollfd p{.fd = fd_, .events = POLLOUT, .revents = 0};
    if (!started_ || ::poll(&p, 1, ms) != 1 || (p.revents & (POLLERR | POLLHUP)) != 0) {
      return false;
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
    return error == 0;
  }

 private:
  int fd_ = -1;
  bool started_ = false;
};

TEST(BanFilter, ParsesIpv4AndMappedAddressesOnly) {
  EXPECT_EQ(BannableIpv4("127.0.0.2"), 0x7f000002u);
  EXPECT_EQ(BannableIpv4("::ffff:10.1.2.3"), 0x0a010203u);
  EXPECT_EQ(BannableIpv4("::1"), std::nullopt);
  EXPECT_EQ(BannableIpv4("2001:db8::1"), std::nullopt);
  EXPECT_EQ(BannableIpv4("127.0.0.2:80"), std::nullopt);
  EXPECT_EQ(BannableIpv4(""), std::nullopt);
}

TEST(BanFilter, ParsesNativeIpv6AddressesOnly) {
  const std::optional<Ipv6Address> loopback = BannableIpv6("::1");
  ASSERT_TRUE(loopback.has_value());
  Ipv6Address expected{};
  expected[15] = 1;
  EXPECT_EQ(*loopback, expected);
  EXPECT_TRUE(BannableIpv6("2001:db8::1").has_value());
  EXPECT_EQ(BannableIpv6("::ffff:10.1.2.3"), std::nullopt);  // BannableIpv4's
  EXPECT_EQ(BannableIpv6("127.0.0.2"), std::nullopt);
  EXPECT_EQ(BannableIpv6("fe80::1%eth0"), std::nullopt);
  EXPECT_EQ(BannableIpv6(""), std::nullopt);
}

// Runs `program` over a packet whose network header is `header` the way the
// kernel does for the instructions BanFilterProgram uses: returns the
// verdict (0 drop), or -1 for an instruction it should not contain.
int64_t RunProgram(const std::vector<sock_filter>& program, const std::vector<uint8_t>& header) {
  uint32_t a = 0;
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& in = program[pc];
    const auto load = [&](size_t at, size_t bytes) {
      uint32_t v = 0;
      for (size_t i = 0; i < bytes; ++i) v = (v << 8) | header.at(at + i);
      return v;
    };
    switch (in.code) {
      case BPF_LD | BPF_B | BPF_ABS: a = load(in.k - SKF_NET_OFF, 1); break;
      case BPF_LD | BPF_W | BPF_ABS: a = load(in.k - SKF_NET_OFF, 4); break;
      case BPF_ALU | BPF_AND | BPF_K: a &= in.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == in.k ? in.jt : in.jf; break;
      case BPF_JMP | BPF_JA: pc += in.k; break;
      case BPF_RET | BPF_K: return in.k;
      default: return -1;
    }
  }
  return -1;  // ran off the end
}

std::vector<uint8_t> Ipv4Header(uint32_t source) {
  std::vector<uint8_t> h(20, 0);
  h[0] = 0x45;
  for (int i = 0; i < 4; ++i) h[12 + i] = static_cast<uint8_t>(source >> (24 - 8 * i));
  return h;
}

std::vector<uint8_t> Ipv6Header(const Ipv6Address& source) {
  std::vector<uint8_t> h(40, 0);
  h[0] = 0x60;
  std::copy(source.begin(), source.end(), h.begin() + 8);
  return h;
}

TEST(BanFilter, BothFamiliesProgramDropsExactlyTheBannedSources) {
  // A full list, half of each family; every IPv6 entry differs from the
  // probes in one word only, so each word's comparison is exercised.
  std::vector<uint32_t> banned = {0x7f000002};
  std::vector<Ipv6Address> banned6;
  Ipv6Address probe = *BannableIpv6("2001:db8:1:2:3:4:5:6");
  while (banned.size() + banned6.size() < kMaxBanned) {
    if (banned.size() <= banned6.size()) {
      banned.push_back(0x0a000000 + static_cast<uint32_t>(banned.size()));
    } else {
      Ipv6Address near = probe;
      near[4 * (banned6.size() % 4) + 3] ^= static_cast<uint8_t>(1 + banned6.size() / 4);
      banned6.push_back(near);
    }
  }
  banned6.back() = probe;  // the last entry, farthest from "drop"
  const std::vector<sock_filter> program = BanFilterProgram(banned, banned6);
  ASSERT_LE(program.size(), size_t{BPF_MAXINSNS});
  EXPECT_EQ(RunProgram(program, Ipv6Header(probe)), 0);
  EXPECT_EQ(RunProgram(program, Ipv6Header(banned6.front())), 0);
  EXPECT_EQ(RunProgram(program, Ipv6Header(*BannableIpv6("2001:db8::9"))), 0xffffffff);
  EXPECT_EQ(RunProgram(program, Ipv6Header(*BannableIpv6("::1"))), 0xffffffff);
  EXPECT_EQ(RunProgram(program, Ipv4Header(0x7f000002)), 0);
  EXPECT_EQ(RunProgram(program, Ipv4Header(banned.back())), 0);
  EXPECT_EQ(RunProgram(program, Ipv4Header(0x7f000003)), 0xffffffff);
  // The kernel takes the full program.
  Listener listener(AF_INET6);
  if (listener.ok()) {
    const Status attached = SetBanFilter(listener.fd(), banned, banned6);
    EXPECT_TRUE(attached.ok()) << attached.ToString();
  }
  // Without IPv6 bans the program is the IPv4 one, IPv6 passing.
  const std::vector<sock_filter> v4_only = BanFilterProgram(banned);
  EXPECT_EQ(v4_only.size(), 4 + banned.size() + 2);
  EXPECT_EQ(RunProgram(v4_only, Ipv6Header(probe)), 0xffffffff);
  EXPECT_EQ(RunProgram(v4_only, Ipv4Header(0x7f000002)), 0);
}

TEST(BanFilter, ProgramJumpsLandOnPassAndDrop) {
  const std::vector<uint32_t> banned = {1, 2, 3};
  const std::vector<sock_filter> p = BanFilterProgram(banned);
  ASSERT_EQ(p.size(), 4u + 3 + 2);
  const size_t pass = 7, drop = 8;
  EXPECT_EQ(p[pass].code, BPF_RET | BPF_K);
  EXPECT_EQ(p[pass].k, 0xffffffffu);
  EXPECT_EQ(p[drop].code, BPF_RET | BPF_K);
  EXPECT_EQ(p[drop].k, 0u);
  EXPECT_EQ(2 + 1 + p[2].jf, pass);  // not IPv4
  for (size_t i = 0; i < banned.size(); ++i) {
    EXPECT_EQ(p[4 + i].k, banned[i]);
    EXPECT_EQ(4 + i + 1 + p[4 + i].jt, drop) << i;
    EXPECT_EQ(p[4 + i].jf, 0);
  }
}

TEST(BanFilter, SynsFromABannedSourceAreDroppedBeforeAccept) {
  Listener listener(AF_INET);
  ASSERT_TRUE(listener.ok());
  const std::vector<uint32_t> banned = {0x7f000002};  // 127.0.0.2
  ASSERT_TRUE(SetBanFilter(listener.fd(), banned).ok());
  Dial banned_dial("127.0.0.2", listener.port());
  Dial other("127.0.0.3", listener.port());
  // Loopback answers a SYN within microseconds; the banned one gets no
  // answer (its first retransmission is 1 s away).
  EXPECT_TRUE(other.Connected(5000));
  EXPECT_FALSE(banned_dial.Connected(300));
  EXPECT_TRUE(listener.AcceptOne());
  EXPECT_FALSE(listener.AcceptOne()) << "the banned connect reached the accept queue";
  // Lifting the ban: the retransmitted SYN gets in.
  ASSERT_TRUE(SetBanFilter(listener.fd(), {}).ok());
  EXPECT_TRUE(banned_dial.Connected(5000));
  EXPECT_TRUE(listener.AcceptOne());
  // Detaching twice is fine.
  EXPECT_TRUE(SetBanFilter(listener.fd(), {}).ok());
}

TEST(BanFilter, AFullListAttachesAndMatchesItsLastEntry) {
  Listener listener(AF_INET);
  ASSERT_TRUE(listener.ok());
  std::vector<uint32_t> banned;
  for (uint32_t i = 0; i < kMaxBanned - 1; ++i) banned.push_back(0x0a000000 + i);  // 10.0.0.x
  banned.push_back(0x7f000002);
  ASSERT_EQ(banned.size(), kMaxBanned);
  const Status status = SetBanFilter(listener.fd(), banned);
  ASSERT_TRUE(status.ok()) << status.ToString();
  Dial banned_dial("127.0.0.2", listener.port());
  Dial other("127.0.0.3", listener.port());
  EXPECT_TRUE(other.Connected(5000));
  EXPECT_FALSE(banned_dial.Connected(300));
}

TEST(BanFilter, DualStackListenerDropsMappedIpv4AndPassesIpv6) {
  Listener listener(AF_INET6);
  if (!listener.ok()) GTEST_SKIP() << "no IPv6 on this machine";
  const std::vector<uint32_t> banned = {0x7f000002};
  ASSERT_TRUE(SetBanFilter(listener.fd(), banned).ok());
  Dial banned_dial("127.0.0.2", listener.port());
  Dial v6(listener.port());
  Dial other("127.0.0.3", listener.port());
  EXPECT_TRUE(other.Connected(5000));
  EXPECT_TRUE(v6.Connected(5000)) << "IPv6 segments must pass the filter";
  EXPECT_FALSE(banned_dial.Connected(300));
}

}  // namespace
}  // namespace murmur::net

namespace murmur::net {
namespace {

TEST(BanFilter, DualStackListenerDropsABannedIpv6Source) {
  Listener listener(AF_INET6);
  if (!listener.ok()) GTEST_SKIP() << "no IPv6 on this machine";
  const std::vector<uint32_t> banned = {0x7f000002};
  const std::vector<Ipv6Address> banned6 = {*BannableIpv6("::1")};
  const Status status = SetBanFilter(listener.fd(), banned, banned6);
  ASSERT_TRUE(status.ok()) << status.ToString();
  Dial v6(listener.port());
  Dial banned_dial("127.0.0.2", listener.port());
  Dial other("127.0.0.3", listener.port());
  EXPECT_TRUE(other.Connected(5000));
  EXPECT_FALSE(v6.Connected(300)) << "the banned IPv6 source's SYN was answered";
  EXPECT_FALSE(banned_dial.Connected(300));
  EXPECT_TRUE(listener.AcceptOne());
  EXPECT_FALSE(listener.AcceptOne()) << "a banned connect reached the accept queue";
  // Another IPv6 ban list that leaves ::1 out lets its retransmitted SYN in.
  const std::vector<Ipv6Address> other6 = {*BannableIpv6("2001:db8::1")};
  ASSERT_TRUE(SetBanFilter(listener.fd(), banned, other6).ok());
  EXPECT_TRUE(v6.Connected(5000));
  EXPECT_TRUE(listener.AcceptOne());
}

}  // namespace
}  // namespace murmur::net
