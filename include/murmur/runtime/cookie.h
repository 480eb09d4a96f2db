// Stateless cookies for Hellos under load, after WireGuard's cookie reply
// (Donenfeld, 2017, "WireGuard: next generation kernel network tunnel",
// section 5.4.7). When the acceptor is under load (admission.h,
// UnderLoad), a Hello must carry mac2, a MAC keyed by a cookie the acceptor
// can recompute from a secret and the Hello's source "ip:port" alone:
//
//   cookie = BLAKE2b-128("murmur/3 cookie" || source, key = secret)
//
// A Hello without a valid mac2 is answered with a CookieReply (the cookie,
// sealed; handshake.h) instead of a key pair and a signature, and the
// acceptor keeps nothing about it: the next Hello on the connection is
// checked against the cookie recomputed. The secret is 32 random bytes
// replaced every `rotation` (2 minutes, as WireGuard's), in epochs of fixed
// length: a cookie is accepted in its secret's epoch and the next, so it
// lives less than two rotations and the minter holds two secrets.
// Pure logic (time comes in as a value). Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "murmur/core/ids.h"

namespace murmur::net {

inline constexpr size_t kCookieSize = 16;
using Cookie = std::array<uint8_t, kCookieSize>;

class CookieMinter {
 public:
  // REQUIRES: rotation > 0.
  explicit CookieMinter(Duration rotation = Duration::Seconds(120));
  ~CookieMinter();
  CookieMinter(const CookieMinter&) = delete;
  CookieMinter& operator=(const CookieMinter&) = delete;

  // The cookies a Hello from `source` at `now` may carry a mac2 under:
  // the current secret's first (the one to hand out), then the previous
  // epoch's. REQUIRES: `now` never goes backwards between calls.
  std::vector<Cookie> Accepted(std::string_view source, SimTime now);
  // The cookie to hand out: Accepted(source, now).front().
  Cookie Make(std::string_view source, SimTime now);

  // Secrets drawn so far (one per epoch in which a cookie was asked for).
  uint64_t rotations() const { return rotations_; }

 private:
  void Advance(SimTime now);
  static Cookie Mint(const std::array<uint8_t, 32>& secret, std::string_view source);

  const Duration rotation_;
  bool started_ = false;
  SimTime start_;
  int64_t epoch_ = 0;  // of current_
  std::array<uint8_t, 32> current_{};
  std::array<uint8_t, 32> previous_{};
  bool have_previous_ = false;
  uint64_t rotations_ = 0;
};

}  // namespace murmur::net
