// The connection flood of issue 18 for runtime tests: up to `sockets` TCP
// connections from one source address (an IPv4 loopback address such as
// 127.0.0.2, so the target tells it from peers on 127.0.0.1, or ::1 to a
// dual-stack target) held open to
// a target, half of them silent and half after a Hello (`hello`: garbage
// or valid), each one the target closes reconnected at once and each
// connect unanswered after 0.2 s (its SYNs dropped, e.g. by a ban)
// abandoned for a new one, at most 50 new connects per 10 ms round, until
// destroyed. Runs on a thread of its own; connects() is thread-safe.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace murmur::testing {

class Flooder {
 public:
  // `source`: "a.b.c.d" or "::1"; `target`: "a.b.c.d:port" or "[v6]:port"
  // (the same family).
  Flooder(const std::string& source, const std::string& target, size_t sockets,
          std::function<std::vector<uint8_t>()> hello);
  ~Flooder();
  Flooder(const Flooder&) = delete;
  Flooder& operator=(const Flooder&) = delete;

  uint64_t connects() const { return connects_; }
  // Connects seen completed (the target's kernel answered the SYN; one
  // reset before the flooder looked is not counted).
  uint64_t established() const { return established_; }
  // Returns once `count` connects were made, or after `timeout`.
  void AwaitConnects(uint64_t count, std::chrono::seconds timeout);

 private:
  int Connect(size_t i);
  void Loop();

  std::function<std::vector<uint8_t>()> hello_;
  std::vector<int> fds_;
  std::vector<std::chrono::steady_clock::time_point> started_;
  std::vector<bool> connected_;
  sockaddr_storage to_{};
  sockaddr_storage from_{};
  socklen_t to_length_ = 0;
  socklen_t from_length_ = 0;
  std::atomic<bool> stop_ = false;
  std::atomic<uint64_t> connects_ = 0;
  std::atomic<uint64_t> established_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace murmur::testing
