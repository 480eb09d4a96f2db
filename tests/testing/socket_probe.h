// A raw TCP client for runtime tests that play a hostile or broken peer:
// it writes bytes a real peer would never send and waits for the other end
// to hang up. SendAndAwaitClose is IPv4 only (the tests listen on
// 127.0.0.1); ConnectsWithin and the Flooder (flooder.h) take IPv6 too.
#pragma once

#include <sys/socket.h>

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

// `host` ("a.b.c.d", "::1" or "[::1]") and `port` as a socket address;
// returns its length, 0 when `host` is neither family's.
socklen_t ToSocketAddress(const std::string& host, uint16_t port, sockaddr_storage& out);
// The same for "host:port" ("a.b.c.d:port" or "[v6]:port").
socklen_t ToSocketAddress(const std::string& host_port, sockaddr_storage& out);

// Whether a TCP connect from `source` ("a.b.c.d" or "::1", bound before connecting)
// to `address` completes (the target's kernel answers the SYN) within
// `wait`. The socket is closed either way.
bool ConnectsWithin(const std::string& source, const std::string& address,
                    std::chrono::milliseconds wait);

}  // namespace murmur::testing
