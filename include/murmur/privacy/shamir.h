// Shamir t-of-n secret sharing (Shamir, 1979, "How to Share a Secret") of
// 32-byte secrets over the prime field GF(2^61 - 1). A secret is split into
// five 7-byte chunks, each the constant term of its own random polynomial of
// degree t-1; a share is the polynomials' values at x = holder + 1. Any t
// shares reconstruct the secret; t-1 reveal nothing about it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/status.h"

namespace murmur::privacy {

inline constexpr uint64_t kShamirPrime = (uint64_t{1} << 61) - 1;
inline constexpr int kShamirChunks = 5;  // 5 x 7 bytes >= 32 bytes

using Secret32 = std::array<uint8_t, 32>;

struct ShamirShare {
  uint32_t x = 0;  // evaluation point, >= 1
  std::array<uint64_t, kShamirChunks> y{};
};

// Shares `secret` at the points x = 1 + holders[i]. `coefficients` supplies
// the random polynomial coefficients: (threshold - 1) * kShamirChunks words,
// each reduced into the field; it must come from a cryptographic generator.
// REQUIRES: 1 <= threshold <= holders.size(), holders distinct and
// < 2^32 - 1, coefficients.size() == (threshold - 1) * kShamirChunks.
std::vector<ShamirShare> ShamirSplit(const Secret32& secret, uint32_t threshold,
                                     std::span<const uint32_t> holders,
                                     std::span<const uint64_t> coefficients);

// Reconstructs from the first `threshold` shares. kInvalidArgument for fewer
// shares, kCorrupt for a repeated or zero x, a y outside the field, or a
// result that is not a 32-byte secret (shares of different secrets).
Result<Secret32> ShamirReconstruct(std::span<const ShamirShare> shares, uint32_t threshold);

}  // namespace murmur::privacy
