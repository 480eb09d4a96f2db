#include "murmur/core/rng.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/check.h"
#include "murmur/core/philox_words.h"

namespace murmur {
namespace {

// One standard normal from two uniforms in [0, 1).
double BoxMuller(double u1, double u2) {
  // 1 - u1 is in (0, 1], so the log is finite.
  return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

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

void Rng::NextU32s(std::span<uint32_t> out) {
  size_t i = 0;
  while (i < out.size() && used_ < 4) out[i++] = block_[used_++];
  const size_t blocks = (out.size() - i) / 4;
  PhiloxWords(uint64_t{key_[0]} | (uint64_t{key_[1]} << 32), peer_,
              static_cast<RngPurpose>(purpose_), counter_, blocks, out.data() + i);
  counter_ += blocks;
  i += 4 * blocks;
  while (i < out.size()) out[i++] = NextU32();
}

void Rng::Uniforms(std::span<double> out) {
  constexpr size_t kChunk = 256;
  uint32_t words[2 * kChunk];
  for (size_t at = 0; at < out.size(); at += kChunk) {
    const size_t n = std::min(kChunk, out.size() - at);
    NextU32s({words, 2 * n});
    for (size_t j = 0; j < n; ++j) {
      const uint64_t u = (static_cast<uint64_t>(words[2 * j]) << 32) | words[2 * j + 1];
      out[at + j] = static_cast<double>(u >> 11) * 0x1.0p-53;
    }
  }
}

void Rng::Normals(std::span<double> out) {
  constexpr size_t kChunk = 256;
  double u[2 * kChunk];
  for (size_t at = 0; at < out.size(); at += kChunk) {
    const size_t n = std::min(kChunk, out.size() - at);
    Uniforms({u, 2 * n});
    for (size_t j = 0; j < n; ++j) out[at + j] = BoxMuller(u[2 * j], u[2 * j + 1]);
  }
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
  const double u1 = Uniform();
  const double u2 = Uniform();
  return BoxMuller(u1, u2);
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
