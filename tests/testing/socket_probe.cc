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

bool ConnectsWithin(const std::string& source, const std::string& address,
                    std::chrono::milliseconds wait) {
  const size_t colon = address.rfind(':');
  sockaddr_in to{}, from{};
  to.sin_family = from.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr);
  ::inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  bool connected = false;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
      (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 || errno == EINPROGRESS)) {
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
