// The kernel ban filter (ban_filter.h) on real loopback sockets: SYNs from a
// banned IPv4 source are dropped before accept (the connect stays pending),
// other sources and IPv6 pass, and detaching lets the banned source in.
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
