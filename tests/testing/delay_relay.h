// A TCP relay that adds a fixed one-way delay: link latency for process
// tests where the kernel has no `netem` (tc's delay qdisc). Each route
// listens on an address and forwards every accepted connection to an
// upstream address, holding each chunk of bytes for `delay` in both
// directions before passing it on. Byte order, content and half-closes are
// kept; a reset or error on either side closes both. At most `kMaxQueued`
// bytes wait per direction (then it stops reading from that side, and TCP
// flow control pushes back), so its memory is bounded.
//
// A route may live in a Linux network namespace (`netns`, a name under
// /run/netns as `ip netns add` makes): its thread enters that namespace, so
// it listens and connects there. NetworkNamespaces puts one route in front
// of each peer: the peer listens on IP:7000, advertises the relay's IP:7001,
// and so every connection to it crosses one delay each way.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace murmur::testing {

class DelayRelay {
 public:
  static constexpr size_t kMaxQueued = 4 << 20;

  struct Route {
    std::string netns;  // "" = this process's namespace
    std::string listen_ip;
    uint16_t listen_port = 0;  // 0: any free port (see port())
    std::string upstream_ip;
    uint16_t upstream_port = 0;
  };

  // Starts one thread per route; returns once every route listens. On
  // failure error() says why and nothing runs.
  DelayRelay(std::vector<Route> routes, std::chrono::microseconds delay);
  ~DelayRelay();
  DelayRelay(const DelayRelay&) = delete;
  DelayRelay& operator=(const DelayRelay&) = delete;

  const std::string& error() const { return error_; }
  uint16_t port(size_t route) const { return ports_[route]; }
  // Bytes forwarded so far, both directions, all routes.
  uint64_t bytes() const { return bytes_.load(); }
  // Connections accepted so far.
  uint64_t connections() const { return connections_.load(); }
  // The shortest time any chunk was held (microseconds), to check the
  // delay really applied; UINT64_MAX before the first chunk.
  uint64_t min_hold_us() const { return min_hold_us_.load(); }

 private:
  void Serve(size_t route, int listen_fd);

  std::vector<Route> routes_;
  std::chrono::microseconds delay_;
  std::string error_;
  std::vector<uint16_t> ports_;
  std::vector<std::thread> threads_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<uint64_t> bytes_{0}, connections_{0}, min_hold_us_{UINT64_MAX};
};

}  // namespace murmur::testing
