// "host:port" text <-> Asio TCP endpoints, for the runtime's listen,
// advertise, bootstrap and record addresses. Private to the runtime.
#pragma once

#include <string>

#include "murmur/core/status.h"
#include "runtime/asio.h"

namespace murmur::net {

// Parses "A.B.C.D:PORT" or "[IPV6]:PORT" (numeric addresses only; no name
// lookup). kInvalidArgument naming the address otherwise.
Result<asio::ip::tcp::endpoint> ParseEndpoint(const std::string& address);

// The inverse of ParseEndpoint ("[::1]:7000" for IPv6).
std::string ToString(const asio::ip::tcp::endpoint& endpoint);

}  // namespace murmur::net
