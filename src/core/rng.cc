#include "murmur/core/rng.h"

#include <cmath>

#include "murmur/core/check.h"

namespace murmur {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53;
constexpr uint32_t kMul1 = 0xCD9E8D57;
constexpr uint32_t kWeyl0 = 0x9E3779B9;
constexpr uint32_t kWeyl1 = 0xBB67AE85;

inline void MulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

}  // namespace

std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> c,
                                   std::array<uint32_t, 2> k) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    MulHiLo(kMul0, c[0], &hi0, &lo0);
    MulHiLo(kMul1, c[2], &hi1, &lo1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += kWeyl0;
    k[1] += kWeyl1;
  }
  return c;
}

Rng::Rng(uint64_t seed, PeerId peer, RngPurpose purpose, uint64_t start)
    : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
      peer_(peer.value),
      purpose_(static_cast<uint32_t>(purpose)),
      counter_(start) {}

uint64_t Rng::position() const { return counter_ * 4 - static_cast<uint64_t>(4 - used_); }

void Rng::Discard(uint64_t n) {
  const uint64_t next = position() + n;
  counter_ = next / 4;
  used_ = 4;
  const auto within = static_cast<int>(next % 4);
  if (within != 0) {
    NextU32();  // loads block next / 4
    used_ = within;
  }
}

Rng Rng::ForStep(uint64_t seed, PeerId peer, RngPurpose purpose,
                 uint64_t step) {
  // Each step gets 2^40 blocks of its own: far more than any consumer draws.
  // Steps from 2^24 on would wrap onto earlier steps' blocks.
  MURMUR_CHECK(step < (uint64_t{1} << 24));
  return Rng(seed, peer, purpose, step << 40);
}

Rng Rng::FromSecretKey(const std::array<uint32_t, 4>& key, uint64_t step) {
  MURMUR_CHECK(step < (uint64_t{1} << 24));
  Rng out(uint64_t{key[0]} | (uint64_t{key[1]} << 32), PeerId(key[2]), RngPurpose::kTest,
          step << 40);
  out.purpose_ = key[3];
  return out;
}

uint32_t Rng::NextU32() {
  if (used_ == 4) {
    block_ = Philox4x32({static_cast<uint32_t>(counter_),
                         static_cast<uint32_t>(counter_ >> 32), peer_,
                         purpose_},
                        key_);
    ++counter_;
    used_ = 0;
  }
  return block_[used_++];
}

uint64_t Rng::NextU64() {
  uint64_t hi = NextU32();
  return (hi << 32) | NextU32();
}

double Rng::Uniform() {
  return static_cast<double>(NextU64() >> 11) * 0x1.0p-53;
}

uint64_t Rng::UniformInt(uint64_t n) {
  MURMUR_CHECK(n > 0);
  // Lemire's nearly divisionless method on 64 bits.
  unsigned __int128 m = static_cast<unsigned __int128>(NextU64()) * n;
  auto low = static_cast<uint64_t>(m);
  if (low < n) {
    uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(NextU64()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double Rng::Normal() {
  double u1 = Uniform();
  double u2 = Uniform();
  // 1 - u1 is in (0, 1], so the log is finite.
  return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
}

double Rng::Gamma(double shape) {
  MURMUR_CHECK(shape > 0);
  if (shape < 1.0) {
    // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
    double u = Uniform();
    return Gamma(shape + 1.0) * std::pow(1.0 - u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x, v;
    do {
      x = Normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    double u = 1.0 - Uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double Rng::Exponential(double mean) {
  MURMUR_CHECK(mean > 0);
  return -mean * std::log(1.0 - Uniform());
}

}  // namespace murmur
