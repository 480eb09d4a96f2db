#include "testing/socket_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace murmur::testing
