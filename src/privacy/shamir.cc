#include "murmur/privacy/shamir.h"

#include <algorithm>

namespace murmur::privacy {
namespace {

constexpr uint64_t kP = kShamirPrime;

uint64_t Reduce(unsigned __int128 v) {
  // 2^61 = 1 (mod p): fold the high bits onto the low ones twice.
  uint64_t lo = static_cast<uint64_t>(v & kP);
  uint64_t hi = static_cast<uint64_t>(v >> 61);
  uint64_t r = lo + hi;
  r = (r & kP) + (r >> 61);
  return r >= kP ? r - kP : r;
}
uint64_t Add(uint64_t a, uint64_t b) { return Reduce(static_cast<unsigned __int128>(a) + b); }
uint64_t Sub(uint64_t a, uint64_t b) { return Add(a, kP - b); }
uint64_t Mul(uint64_t a, uint64_t b) { return Reduce(static_cast<unsigned __int128>(a) * b); }
uint64_t Pow(uint64_t a, uint64_t e) {
  uint64_t r = 1;
  for (; e > 0; e >>= 1, a = Mul(a, a)) {
    if (e & 1) r = Mul(r, a);
  }
  return r;
}
uint64_t Inverse(uint64_t a) { return Pow(a, kP - 2); }  // Fermat

std::array<uint64_t, kShamirChunks> Chunks(const Secret32& s) {
  std::array<uint64_t, kShamirChunks> chunks{};
  for (int i = 0; i < 32; ++i) chunks[i / 7] |= static_cast<uint64_t>(s[i]) << (8 * (i % 7));
  return chunks;
}

}  // namespace

std::vector<ShamirShare> ShamirSplit(const Secret32& secret, uint32_t threshold,
                                     std::span<const uint32_t> holders,
                                     std::span<const uint64_t> coefficients) {
  MURMUR_CHECK(threshold >= 1 && threshold <= holders.size());
  MURMUR_CHECK(coefficients.size() == (threshold - 1) * size_t{kShamirChunks});
  const auto chunks = Chunks(secret);
  std::vector<ShamirShare> shares;
  shares.reserve(holders.size());
  for (uint32_t holder : holders) {
    MURMUR_CHECK(holder < UINT32_MAX);
    ShamirShare share{.x = holder + 1};
    for (int c = 0; c < kShamirChunks; ++c) {
      // Horner from the highest coefficient down to the secret chunk.
      uint64_t y = 0;
      for (uint32_t k = threshold - 1; k >= 1; --k) {
        y = Add(Mul(y, share.x), coefficients[(k - 1) * kShamirChunks + c] % kP);
      }
      share.y[c] = Add(Mul(y, share.x), chunks[c]);
    }
    shares.push_back(share);
  }
  return shares;
}

Result<Secret32> ShamirReconstruct(std::span<const ShamirShare> shares, uint32_t threshold) {
  if (threshold == 0 || shares.size() < threshold) {
    return Status::InvalidArgument("shamir: ", shares.size(), " shares, ", threshold,
                                   " needed");
  }
  std::span<const ShamirShare> used = shares.first(threshold);
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i].x == 0) return Status::Corrupt("shamir: share at x=0");
    for (uint64_t y : used[i].y) {
      if (y >= kP) return Status::Corrupt("shamir: share value outside the field");
    }
    for (size_t j = 0; j < i; ++j) {
      if (used[j].x == used[i].x) return Status::Corrupt("shamir: two shares at x=", used[i].x);
    }
  }
  std::array<uint64_t, kShamirChunks> chunks{};
  for (size_t i = 0; i < used.size(); ++i) {
    // Lagrange basis at 0: prod_j x_j / (x_j - x_i).
    uint64_t num = 1, den = 1;
    for (size_t j = 0; j < used.size(); ++j) {
      if (j == i) continue;
      num = Mul(num, used[j].x);
      den = Mul(den, Sub(used[j].x, used[i].x));
    }
    const uint64_t basis = Mul(num, Inverse(den));
    for (int c = 0; c < kShamirChunks; ++c) chunks[c] = Add(chunks[c], Mul(basis, used[i].y[c]));
  }
  Secret32 secret{};
  for (int c = 0; c < kShamirChunks; ++c) {
    const int bytes = c < 4 ? 7 : 4;
    if (chunks[c] >> (8 * bytes) != 0) {
      return Status::Corrupt("shamir: reconstructed chunk ", c, " is not a secret's bytes");
    }
    for (int b = 0; b < bytes; ++b) secret[c * 7 + b] = static_cast<uint8_t>(chunks[c] >> (8 * b));
  }
  return secret;
}

}  // namespace murmur::privacy
