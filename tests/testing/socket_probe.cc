#include "testing/socket_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace murmur::testing {

bool SendAndAwaitClose(const std::string& address, const std::vector<uint8_t>& bytes,
                       std::chrono::steady_clock::time_point deadline, AfterSend after) {
  using Clock = std::chrono::steady_clock;
  const size_t colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return false;
  }
  (void)!::write(fd, bytes.data(), bytes.size());
  if (after == AfterSend::kHalfClose) ::shutdown(fd, SHUT_WR);
  bool closed = false;
  char buf[4096];
  while (!closed) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    closed = ::read(fd, buf, sizeof buf) <= 0;  // the peer's Hello, then EOF/RST
  }
  ::close(fd);
  return closed;
}

bool SendAndAwaitClose(const std::string& address, const std::vector<uint8_t>& bytes,
                       AfterSend after) {
  return SendAndAwaitClose(address, bytes, std::chrono::steady_clock::now() + std::chrono::seconds(20),
                           after);
}

socklen_t ToSocketAddress(const std::string& host, uint16_t port, sockaddr_storage& out) {
  out = sockaddr_storage{};
  std::string bare = host;
  if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (::inet_pton(AF_INET, bare.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (::inet_pton(AF_INET6, bare.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

socklen_t ToSocketAddress(const std::string& host_port, sockaddr_storage& out) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return 0;
  return ToSocketAddress(host_port.substr(0, colon),
                         static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))), out);
}

bool ConnectsWithin(const std::string& source, const std::string& address,
                    std::chrono::milliseconds wait) {
  sockaddr_storage to{}, from{};
  const socklen_t to_length = ToSocketAddress(address, to);
  const socklen_t from_length = ToSocketAddress(source, 0, from);
  if (to_length == 0 || from_length == 0 || to.ss_family != from.ss_family) return false;
  const int fd = ::socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  bool connected = false;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), from_length) == 0 &&
      (::connect(fd, reinterpret_cast<sockaddr*>(&to), to_length) == 0 || errno == EINPROGRESS)) {
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    int error = -1;
    socklen_t length = sizeof error;
    connected = ::poll(&p, 1, static_cast<int>(wait.count())) == 1 &&
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
  }
  ::close(fd);
  return connected;
}

}  // namespace murmur::testing
