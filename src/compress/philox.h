// Bulk Philox4x32-10 for the hot loops of compress/ (stochastic rounding).
// Produces exactly the words Rng::ForStep(seed, peer, purpose, step) yields
// through NextU32(), in order (tests check it), but inlined over a batch of
// counters so the compiler vectorizes it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "murmur/core/rng.h"

namespace murmur::compress_internal {

// Streams of compress/. RngPurpose has no compression entry yet; these
// values sit far outside core's list so they never collide with it.
inline constexpr RngPurpose kRandKPurpose = static_cast<RngPurpose>(0x43500001);
inline constexpr RngPurpose kRoundingPurpose = static_cast<RngPurpose>(0x43500002);
inline constexpr RngPurpose kPowerSgdPurpose = static_cast<RngPurpose>(0x43500003);

// Where a per-step stream starts (mirrors Rng::ForStep).
inline uint64_t StepCounter(uint64_t step) { return step << 40; }

// Writes 4 * n_blocks words: the words of Philox blocks with counters
// first_counter, first_counter + 1, ... for (seed, peer, purpose).
void PhiloxWords(uint64_t seed, uint32_t peer, RngPurpose purpose,
                 uint64_t first_counter, size_t n_blocks, uint32_t* out);

}  // namespace murmur::compress_internal
