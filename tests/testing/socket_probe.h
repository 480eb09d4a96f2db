// A raw TCP client for runtime tests that play a hostile or broken peer:
// it writes bytes a real peer would never send and waits for the other end
// to hang up. IPv4 only (the tests listen on 127.0.0.1).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace murmur::testing {

enum class AfterSend {
  kWait,       // keep the write side open
  kHalfClose,  // shutdown(SHUT_WR): the other end sees end of stream
};

// Connects to `address` ("a.b.c.d:port"), writes `bytes` (then half-closes
// if asked), and returns true once the other end closes the connection
// before `deadline`. What it sends first (a Hello) is read and dropped.
// Returns false when the connect fails or the deadline passes.
bool SendAndAwaitClose(const std::string& address, const std::vector<uint8_t>& bytes,
                       std::chrono::steady_clock::time_point deadline,
                       AfterSend after = AfterSend::kWait);

// The same with a deadline 20 s from now.
bool SendAndAwaitClose(const std::string& address, const std::vector<uint8_t>& bytes,
                       AfterSend after = AfterSend::kWait);

// Whether a TCP connect from `source` ("a.b.c.d", bound before connecting)
// to `address` completes (the target's kernel answers the SYN) within
// `wait`. The socket is closed either way.
bool ConnectsWithin(const std::string& source, const std::string& address,
                    std::chrono::milliseconds wait);

}  // namespace murmur::testing
