// Strong types for ids, rounds and times, so a peer id can never be passed
// where a round number or a byte count is expected.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>

#include "murmur/core/check.h"

namespace murmur {

// A strongly typed integer. Tag makes each instantiation a distinct type.
template <typename Tag, typename Rep>
struct StrongId {
  Rep value{};
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value(v) {}
  constexpr auto operator<=>(const StrongId&) const = default;
  friend std::ostream& operator<<(std::ostream& out, StrongId id) {
    return out << +id.value;
  }
};

using PeerId = StrongId<struct PeerIdTag, uint32_t>;
using TimerId = StrongId<struct TimerIdTag, uint64_t>;
using Round = StrongId<struct RoundTag, uint32_t>;

// The round numbered `n`, from a count a node keeps as a plain integer (a
// gossip cycle, a model version). REQUIRES: 0 <= n < 2^32, checked: a
// round number never silently wraps.
inline Round RoundOf(int64_t n) {
  MURMUR_CHECK(n >= 0 && n <= int64_t{UINT32_MAX});
  return Round(static_cast<uint32_t>(n));
}

// The round after `round`.
constexpr Round NextRound(Round round) { return Round(round.value + 1); }

// Peer number `index` of a run (peers are 0..n-1, a server is n).
// REQUIRES: 0 <= index < 2^32, checked.
inline PeerId PeerOf(int64_t index) {
  MURMUR_CHECK(index >= 0 && index <= int64_t{UINT32_MAX});
  return PeerId(static_cast<uint32_t>(index));
}

// Virtual time in the simulator, monotonic time in the runtime: integer
// nanoseconds so sums are exact and runs are bit-for-bit reproducible.
struct Duration {
  int64_t ns = 0;
  // Longer durations saturate here (~146 years), so that sums of two of
  // them still fit in int64 nanoseconds.
  static constexpr int64_t kMaxNanos = int64_t{1} << 62;
  static constexpr Duration Nanos(int64_t n) { return Duration{n}; }
  // Rounds to the nearest nanosecond; saturates at +-kMaxNanos (NaN: 0).
  static constexpr Duration Seconds(double s) {
    const double ns = s * 1e9;
    if (!(ns == ns)) return Duration{0};
    if (ns >= static_cast<double>(kMaxNanos)) return Duration{kMaxNanos};
    if (ns <= -static_cast<double>(kMaxNanos)) return Duration{-kMaxNanos};
    return Duration{static_cast<int64_t>(ns + (ns >= 0 ? 0.5 : -0.5))};
  }
  constexpr double seconds() const { return static_cast<double>(ns) * 1e-9; }
  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return {ns + o.ns}; }
  constexpr Duration operator-(Duration o) const { return {ns - o.ns}; }
};

struct SimTime {
  int64_t ns = 0;
  constexpr double seconds() const { return static_cast<double>(ns) * 1e-9; }
  constexpr auto operator<=>(const SimTime&) const = default;
  constexpr SimTime operator+(Duration d) const { return {ns + d.ns}; }
  constexpr Duration operator-(SimTime o) const { return {ns - o.ns}; }
};

}  // namespace murmur

template <typename Tag, typename Rep>
struct std::hash<murmur::StrongId<Tag, Rep>> {
  size_t operator()(murmur::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>()(id.value);
  }
};
