// compress/'s Philox streams: their purposes and where a step's stream
// starts, for core's bulk PhiloxWords (murmur/core/philox_words.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "murmur/core/philox_words.h"
#include "murmur/core/rng.h"

namespace murmur::compress_internal {

// Streams of compress/ (core's RngPurpose list owns the values).
inline constexpr RngPurpose kRandKPurpose = RngPurpose::kRandK;
inline constexpr RngPurpose kRoundingPurpose = RngPurpose::kRounding;
inline constexpr RngPurpose kPowerSgdPurpose = RngPurpose::kPowerSgd;

// Where a per-step stream starts (mirrors Rng::ForStep).
inline uint64_t StepCounter(uint64_t step) { return step << 40; }

using murmur::PhiloxWords;
using murmur::PhiloxWordsPortable;

}  // namespace murmur::compress_internal
