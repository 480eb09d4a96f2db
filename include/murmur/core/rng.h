// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw,
// 2011, "Parallel random numbers: as easy as 1, 2, 3"). A stream is keyed by
// (run seed, peer, purpose) and indexed by a 64-bit counter, so any peer can
// regenerate any other peer's random numbers from a few bytes, and every run
// is replayable from its seed. There is no global generator. A stream keyed
// by a secret instead (FromSecretKey) is the one exception: nobody can
// regenerate it, by design.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>

#include "murmur/core/ids.h"

namespace murmur {

// What a stream is for. Distinct purposes give independent streams.
enum class RngPurpose : uint32_t {
  kInit = 1,        // model initialization
  kBatch = 2,       // mini-batch sampling
  kPartition = 3,   // dataset partitioning
  kTopology = 4,    // random graphs
  kProtocol = 5,    // protocol decisions (peer choice, client sampling)
  kLinkLoss = 6,    // simulated message loss
  kChurn = 7,       // simulated churn schedule
  kDevice = 8,      // simulated device speeds
  kEvalSample = 9,  // which peers are evaluated
  kSynthetic = 10,  // synthetic dataset generation
  kRandK = 11,      // compress/: rand-k coordinate choice (shared by both ends)
  kRounding = 12,   // compress/: stochastic rounding in quantizers
  kPowerSgd = 13,   // compress/: PowerSGD initial factor
  kValidation = 14, // which of a peer's samples form its validation split
  kByzantine = 20,  // which peers are Byzantine
  kSpsaPerturbation = 40,  // SPSA: a peer's perturbation direction per step
  kSeedPool = 41,          // FedKSeed: the K shared candidate directions
  kTest = 100,      // tests
};

// One Philox4x32-10 block: 4 random words for (counter, key). Pure function.
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC 2011). Inline: setup draws one block per 4 words of every peer's
// initial model and of the synthetic data, so a call per block costs.
namespace philox {
constexpr uint32_t kMul0 = 0xD2511F53;
constexpr uint32_t kMul1 = 0xCD9E8D57;
constexpr uint32_t kWeyl0 = 0x9E3779B9;
constexpr uint32_t kWeyl1 = 0xBB67AE85;
constexpr int kRounds = 10;
}  // namespace philox

inline std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> c,
                                          std::array<uint32_t, 2> k) {
  for (int round = 0; round < philox::kRounds; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(philox::kMul0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(philox::kMul1) * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(p0)};
    k[0] += philox::kWeyl0;
    k[1] += philox::kWeyl1;
  }
  return c;
}

class Rng {
 public:
  Rng(uint64_t seed, PeerId peer, RngPurpose purpose, uint64_t start = 0);
  // A stream for a sub-purpose (e.g. a round number) of this one's key.
  // REQUIRES: step < 2^24.
  static Rng ForStep(uint64_t seed, PeerId peer, RngPurpose purpose,
                     uint64_t step);
  // A stream keyed by 128 bits that the caller keeps secret: words 0-1 are
  // the Philox key, words 2-3 take the counter words the peer and purpose
  // fill otherwise. For draws that must not be reproducible from the run
  // seed (a runtime peer's DP noise, runtime/secret_rng.h). `step` as in
  // ForStep. Philox is not a cryptographic cipher: the key resists
  // guessing (2^128), not a cryptanalyst who sees raw outputs.
  // REQUIRES: step < 2^24.
  static Rng FromSecretKey(const std::array<uint32_t, 4>& key, uint64_t step = 0);

  uint32_t NextU32() {
    if (used_ == 4) {
      block_ = Philox4x32({static_cast<uint32_t>(counter_), static_cast<uint32_t>(counter_ >> 32),
                           peer_, purpose_},
                          key_);
      ++counter_;
      used_ = 0;
    }
    return block_[used_++];
  }
  uint64_t NextU64() {
    const uint64_t hi = NextU32();
    return (hi << 32) | NextU32();
  }
  // Uniform in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

  // Bulk draws for setup's long runs (initial models, synthetic data): each
  // leaves `out` and the stream exactly as out.size() calls of NextU32(),
  // Uniform() or Normal() would, with whole blocks from PhiloxWords (eight
  // at a time in AVX2 where the CPU has it; philox_words.h).
  void NextU32s(std::span<uint32_t> out);
  void Uniforms(std::span<double> out);
  void Normals(std::span<double> out);
  // Uniform integer in [0, n). REQUIRES: n > 0. Unbiased (Lemire 2019).
  uint64_t UniformInt(uint64_t n);
  // Standard normal (Box-Muller).
  double Normal();
  // Gamma(shape, 1) (Marsaglia and Tsang 2000). REQUIRES: shape > 0.
  double Gamma(double shape);
  // Exponential with the given mean. REQUIRES: mean > 0.
  double Exponential(double mean);

  // The index of the next 32-bit word, counted from block 0 of the key (a
  // stream made with `start` begins at 4 * start).
  uint64_t position() const;
  // Skips `n` 32-bit words in O(1): the stream continues as if NextU32()
  // had been called n times.
  void Discard(uint64_t n);

  template <typename T>
  void Shuffle(std::span<T> items) {
    for (size_t i = items.size(); i > 1; --i) {
      size_t j = UniformInt(i);
      std::swap(items[i - 1], items[j]);
    }
  }

 private:
  std::array<uint32_t, 2> key_;
  uint32_t peer_;
  uint32_t purpose_;
  uint64_t counter_;
  std::array<uint32_t, 4> block_{};
  int used_ = 4;
};

}  // namespace murmur
