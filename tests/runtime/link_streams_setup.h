// What the link-streams suites (link_streams_test.cc,
// link_streams_shutdown_test.cc) share: the options and the security of the
// two NetHosts (slots 0 and 1 over 127.0.0.1) whose link has several TCP
// streams (NetOptions::streams).
#pragma once

#include <cstdint>
#include <utility>

#include "murmur/runtime/identity.h"
#include "murmur/runtime/net_host.h"

namespace murmur::testing {

// Slot `self` of a 2-slot run whose links have `streams` streams; a quick
// redial (20 ms backoff) and a generous start timeout.
inline net::NetOptions StreamOptions(uint32_t self, uint8_t streams) {
  net::NetOptions o;
  o.self = PeerId(self);
  o.num_slots = 2;
  o.start_timeout = Duration::Seconds(30);
  o.backoff_min = Duration::Seconds(0.02);
  o.streams = streams;
  return o;
}

// The network key both hosts share.
inline net::NetworkKey StreamNetworkKey() {
  net::NetworkKey psk{};
  psk.fill(5);
  return psk;
}

// A host's security: `identity` (by default a fresh key pair) under the
// shared network key.
inline net::NetSecurity StreamSecurity(net::Identity identity = net::Identity::Generate()) {
  return net::NetSecurity{.identity = std::move(identity), .network_key = StreamNetworkKey()};
}

}  // namespace murmur::testing
