// The delaying relay of the network-namespace test (testing/delay_relay.h),
// on 127.0.0.1: a round trip through it takes at least two delays, bytes
// arrive intact and in order, a half-close passes through, and a relay with
// nothing upstream refuses the connection.
#include "testing/delay_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;
using murmur::testing::DelayRelay;

int Listen(uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::listen(fd, 4), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// Reads until EOF (or 10 s pass); returns what came.
std::string ReadAll(int fd) {
  std::string got;
  char buf[65536];
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST(DelayRelay, EchoTakesTwoDelaysAndBytesArriveInOrder) {
  uint16_t upstream_port = 0;
  const int upstream = Listen(&upstream_port);
  // Echoes everything back, then closes when the client half-closes.
  std::thread echo([upstream] {
    const int c = ::accept(upstream, nullptr, nullptr);
    char buf[65536];
    for (ssize_t n; (n = ::read(c, buf, sizeof buf)) > 0;) {
      for (ssize_t sent = 0; sent < n;) sent += ::write(c, buf + sent, n - sent);
    }
    ::close(c);
  });
  DelayRelay relay({{.listen_ip = "127.0.0.1",
                     .upstream_ip = "127.0.0.1",
                     .upstream_port = upstream_port}},
                   std::chrono::milliseconds(30));
  ASSERT_EQ(relay.error(), "");
  const int client = Connect(relay.port(0));

  const auto start = Clock::now();
  ASSERT_EQ(::write(client, "ping", 4), 4);
  char pong[4];
  ASSERT_EQ(::read(client, pong, 4), 4);
  const auto rtt = Clock::now() - start;
  EXPECT_EQ(std::string(pong, 4), "ping");
  EXPECT_GE(rtt, std::chrono::milliseconds(60));  // 30 ms each way

  // 3 MB of a counting pattern, then a half-close: everything comes back
  // in order, then EOF, once the echo server saw our EOF through the relay.
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
  std::thread writer([&] {
    for (size_t sent = 0; sent < big.size();) {
      const ssize_t n = ::write(client, big.data() + sent, big.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(client, SHUT_WR);
  });
  const std::string back = ReadAll(client);
  writer.join();
  echo.join();
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big);
  EXPECT_GE(relay.min_hold_us(), 30000u);
  EXPECT_EQ(relay.bytes(), 2 * (4 + big.size()));
  EXPECT_EQ(relay.connections(), 1u);
  ::close(client);
  ::close(upstream);
}

TEST(DelayRelay, NothingUpstreamRefusesTheConnection) {
  uint16_t dead_port = 0;
  ::close(Listen(&dead_port));  // a port nobody listens on
  DelayRelay relay({{.listen_ip = "127.0.0.1", .upstream_ip = "127.0.0.1",
                     .upstream_port = dead_port}},
                   std::chrono::milliseconds(10));
  ASSERT_EQ(relay.error(), "");
  const int client = Connect(relay.port(0));
  pollfd p{client, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  char c;
  EXPECT_LT(::read(client, &c, 1), 0);  // reset, as a refused dial looks
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(relay.connections(), 0u);
  ::close(client);
}

TEST(DelayRelay, ReportsWhyItCannotListen) {
  DelayRelay relay({{.netns = "no-such-namespace-murmur", .listen_ip = "127.0.0.1"}},
                   std::chrono::milliseconds(1));
  EXPECT_NE(relay.error().find("no-such-namespace-murmur"), std::string::npos) << relay.error();
}

}  // namespace
