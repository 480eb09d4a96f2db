#include "testing/flooder.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "testing/socket_probe.h"

namespace murmur::testing {

using Clock = std::chrono::steady_clock;

Flooder::Flooder(const std::string& source, const std::string& target, size_t sockets,
                 std::function<std::vector<uint8_t>()> hello)
    : hello_(std::move(hello)), fds_(sockets, -1), started_(sockets), connected_(sockets) {
  to_length_ = ToSocketAddress(target, to_);
  from_length_ = ToSocketAddress(source, 0, from_);
  thread_ = std::thread([this] { Loop(); });
}

Flooder::~Flooder() {
  stop_ = true;
  thread_.join();
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

void Flooder::AwaitConnects(uint64_t count, std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return connects_ >= count; });
}

int Flooder::Connect(size_t i) {
  if (to_length_ == 0 || from_length_ == 0) return -1;
  const int fd = ::socket(to_.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&from_), from_length_) != 0 ||
      (::connect(fd, reinterpret_cast<const sockaddr*>(&to_), to_length_) != 0 &&
       errno != EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  {
    std::lock_guard lock(mu_);
    ++connects_;
  }
  cv_.notify_all();
  if (i % 2 == 1) {
    const std::vector<uint8_t> hello = hello_();
    (void)::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  started_[i] = Clock::now();
  connected_[i] = false;
  return fd;
}

void Flooder::Loop() {
  std::vector<pollfd> polls;
  while (!stop_) {
    // At most 50 new connections a round (~5,000 a second): enough to
    // keep every slot busy without running out of ephemeral ports.
    size_t made = 0;
    for (size_t i = 0; i < fds_.size() && made < 50; ++i) {
      if (fds_[i] < 0 && (fds_[i] = Connect(i)) >= 0) ++made;
    }
    polls.clear();
    for (size_t i = 0; i < fds_.size(); ++i) {
      const short events = connected_[i] ? POLLIN : POLLIN | POLLOUT;
      polls.push_back({.fd = fds_[i], .events = events, .revents = 0});
    }
    ::poll(polls.data(), polls.size(), 10);
    const auto now = Clock::now();
    for (size_t i = 0; i < fds_.size(); ++i) {
      if (fds_[i] < 0) continue;
      if (!connected_[i] && (polls[i].revents & POLLOUT) != 0 &&
          (polls[i].revents & (POLLERR | POLLHUP)) == 0) {
        connected_[i] = true;
        ++established_;
      }
      // A refused connect (reset) ends here too, through POLLERR.
      bool drop = !connected_[i] && now - started_[i] > std::chrono::milliseconds(200);
      if ((polls[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        char buffer[512];
        const ssize_t n = ::recv(fds_[i], buffer, sizeof buffer, MSG_DONTWAIT);
        drop = drop || n == 0 || (n < 0 && errno != EAGAIN);
      }
      if (drop) {
        ::close(fds_[i]);
        fds_[i] = -1;
      }
    }
  }
}

}  // namespace murmur::testing
