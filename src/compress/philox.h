// Bulk Philox4x32-10 for the hot loops of compress/ (stochastic rounding).
// Produces exactly the words Rng::ForStep(seed, peer, purpose, step) yields
// through NextU32(), in order (tests check it), many blocks per call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "murmur/core/rng.h"

namespace murmur::compress_internal {

// Streams of compress/ (core's RngPurpose list owns the values).
inline constexpr RngPurpose kRandKPurpose = RngPurpose::kRandK;
inline constexpr RngPurpose kRoundingPurpose = RngPurpose::kRounding;
inline constexpr RngPurpose kPowerSgdPurpose = RngPurpose::kPowerSgd;

// Where a per-step stream starts (mirrors Rng::ForStep).
inline uint64_t StepCounter(uint64_t step) { return step << 40; }

// Writes 4 * n_blocks words: the words of Philox blocks with counters
// first_counter, first_counter + 1, ... for (seed, peer, purpose). Uses
// AVX2 (eight blocks at once) when the CPU has it.
void PhiloxWords(uint64_t seed, uint32_t peer, RngPurpose purpose,
                 uint64_t first_counter, size_t n_blocks, uint32_t* out);

// The same words from core's Philox4x32, one block at a time (the fallback,
// and the reference in tests).
void PhiloxWordsPortable(uint64_t seed, uint32_t peer, RngPurpose purpose,
                         uint64_t first_counter, size_t n_blocks, uint32_t* out);

}  // namespace murmur::compress_internal
