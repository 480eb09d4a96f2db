// Bulk Philox4x32-10 (Salmon et al., SC 2011) for long runs of draws:
// setup's initial models and synthetic data (Rng::NextU32s) and compress/'s
// stochastic rounding. Produces exactly the words Rng(seed, peer, purpose,
// first_counter) yields through NextU32(), in order (tests check it), many
// blocks per call.
#pragma once

#include <cstddef>
#include <cstdint>

#include "murmur/core/rng.h"

namespace murmur {

// Writes 4 * n_blocks words: the words of Philox blocks with counters
// first_counter, first_counter + 1, ... for (seed, peer, purpose). Uses
// AVX2 (eight blocks at once) when the CPU has it.
void PhiloxWords(uint64_t seed, uint32_t peer, RngPurpose purpose,
                 uint64_t first_counter, size_t n_blocks, uint32_t* out);

// The same words from Philox4x32, one block at a time (the fallback, and
// the reference in tests).
void PhiloxWordsPortable(uint64_t seed, uint32_t peer, RngPurpose purpose,
                         uint64_t first_counter, size_t n_blocks, uint32_t* out);

}  // namespace murmur
