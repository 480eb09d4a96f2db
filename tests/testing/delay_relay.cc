#include "testing/delay_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <future>
#include <list>

namespace murmur::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Chunk {
  Clock::time_point read_at, due;
  std::string bytes;
  size_t offset = 0;
};

// Bytes flowing one way: read from `from`, held, written to `to`.
struct Direction {
  int from = -1, to = -1;
  std::deque<Chunk> queue;
  size_t queued = 0;
  bool eof = false;   // `from` said it sends no more
  bool shut = false;  // and we passed that on to `to`
};

struct Pair {
  Direction dir[2];  // a -> b, b -> a
  bool dead = false;
};

sockaddr_in Address(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

void NonBlocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes with a reset, so the other end learns at once that the link broke.
void Reset(int fd) {
  const linger hard{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd);
}

// Enters network namespace `name` (this thread only); "" stays.
std::string EnterNamespace(const std::string& name) {
  if (name.empty()) return "";
  const std::string path = "/run/netns/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  const int r = ::setns(fd, CLONE_NEWNET);
  const int err = errno;
  ::close(fd);
  return r == 0 ? "" : "setns " + name + ": " + std::strerror(err);
}

// Reads what `d.from` has (up to 64 KiB); false when the pair broke.
bool ReadSide(Direction& d, std::chrono::microseconds delay) {
  char buf[65536];
  const ssize_t n = ::read(d.from, buf, sizeof buf);
  if (n > 0) {
    const auto now = Clock::now();
    d.queue.push_back({now, now + delay, std::string(buf, static_cast<size_t>(n))});
    d.queued += static_cast<size_t>(n);
  } else if (n == 0) {
    d.eof = true;
  } else if (errno != EAGAIN && errno != EINTR) {
    return false;
  }
  return true;
}

// Writes every chunk that is due; false when the pair broke.
bool WriteSide(Direction& d, std::atomic<uint64_t>& bytes, std::atomic<uint64_t>& min_hold) {
  while (!d.queue.empty() && d.queue.front().due <= Clock::now()) {
    Chunk& c = d.queue.front();
    if (c.offset == 0) {
      const auto hold = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.read_at).count());
      uint64_t seen = min_hold.load();
      while (hold < seen && !min_hold.compare_exchange_weak(seen, hold)) {
      }
    }
    const ssize_t n = ::send(d.to, c.bytes.data() + c.offset, c.bytes.size() - c.offset,
                             MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.offset += static_cast<size_t>(n);
    d.queued -= static_cast<size_t>(n);
    bytes += static_cast<uint64_t>(n);
    if (c.offset < c.bytes.size()) return true;
    d.queue.pop_front();
  }
  if (d.eof && d.queue.empty() && !d.shut) {
    ::shutdown(d.to, SHUT_WR);
    d.shut = true;
  }
  return true;
}

}  // namespace

DelayRelay::DelayRelay(std::vector<Route> routes, std::chrono::microseconds delay)
    : routes_(std::move(routes)), delay_(delay), ports_(routes_.size()) {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + std::strerror(errno);
    return;
  }
  for (size_t r = 0; r < routes_.size(); ++r) {
    std::promise<std::string> listening;
    std::future<std::string> ready = listening.get_future();
    threads_.emplace_back([this, r, &listening] {
      std::string why = EnterNamespace(routes_[r].netns);
      int fd = why.empty() ? ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
      const int one = 1;
      sockaddr_in a = Address(routes_[r].listen_ip, routes_[r].listen_port);
      socklen_t len = sizeof a;
      if (why.empty() && (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
                          ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) ||
                          ::listen(fd, 64) ||
                          ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len))) {
        why = "listen on " + routes_[r].listen_ip + ": " + std::strerror(errno);
      }
      if (why.empty()) ports_[r] = ntohs(a.sin_port);
      listening.set_value(why);
      if (why.empty()) Serve(r, fd);
      if (fd >= 0) ::close(fd);
    });
    if (std::string why = ready.get(); !why.empty() && error_.empty()) error_ = why;
  }
}

DelayRelay::~DelayRelay() {
  if (stop_pipe_[1] >= 0) (void)!::write(stop_pipe_[1], "x", 1);
  for (std::thread& t : threads_) t.join();
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

void DelayRelay::Serve(size_t route, int listen_fd) {
  const Route& r = routes_[route];
  std::list<Pair> pairs;
  for (;;) {
    std::vector<pollfd> fds = {{stop_pipe_[0], POLLIN, 0}, {listen_fd, POLLIN, 0}};
    int timeout_ms = -1;
    const auto now = Clock::now();
    for (Pair& p : pairs) {
      for (Direction& d : p.dir) {
        short in = (!d.eof && d.queued < kMaxQueued) ? POLLIN : 0;
        short out = 0;
        if (!d.queue.empty()) {
          if (d.queue.front().due <= now) {
            out = POLLOUT;
          } else {
            const auto wait = std::chrono::ceil<std::chrono::milliseconds>(d.queue.front().due - now);
            if (timeout_ms < 0 || wait.count() < timeout_ms) timeout_ms = static_cast<int>(wait.count());
          }
        }
        // A side we want nothing from is left out (fd -1), so its hangup
        // cannot wake us in a loop; it is seen when we next read or write.
        fds.push_back({in ? d.from : -1, in, 0});
        fds.push_back({out ? d.to : -1, out, 0});
      }
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) return;
    if (fds[0].revents) return;  // stopping
    size_t at = 2;
    for (Pair& p : pairs) {
      for (Direction& d : p.dir) {
        const short readable = fds[at].revents, writable = fds[at + 1].revents;
        at += 2;
        if (p.dead) continue;
        if (readable && !ReadSide(d, delay_)) p.dead = true;
        if (!p.dead && ((writable & POLLERR) || !WriteSide(d, bytes_, min_hold_us_))) {
          p.dead = true;
        }
      }
    }
    // Accepted after the pairs' events, which cover only the pairs polled.
    if (fds[1].revents & POLLIN) {
      const int client = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      const int up = client >= 0 ? ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
      sockaddr_in a = Address(r.upstream_ip, r.upstream_port);
      if (up >= 0 && ::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
        NonBlocking(client);
        NonBlocking(up);
        Pair& p = pairs.emplace_back();
        p.dir[0].from = p.dir[1].to = client;
        p.dir[0].to = p.dir[1].from = up;
        ++connections_;
      } else {
        if (up >= 0) ::close(up);
        if (client >= 0) Reset(client);  // nobody upstream: as a refused connection
      }
    }
    for (auto it = pairs.begin(); it != pairs.end();) {
      if (it->dead || (it->dir[0].shut && it->dir[1].shut)) {
        for (int fd : {it->dir[0].from, it->dir[0].to}) it->dead ? Reset(fd) : (void)::close(fd);
        it = pairs.erase(it);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace murmur::testing
