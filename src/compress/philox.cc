#include "compress/philox.h"

#include "compress/simd.h"

namespace murmur::compress_internal {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53;
constexpr uint32_t kMul1 = 0xCD9E8D57;
constexpr uint32_t kWeyl0 = 0x9E3779B9;
constexpr uint32_t kWeyl1 = 0xBB67AE85;

}  // namespace

// Eight blocks side by side in struct-of-arrays form: every statement of the
// round is the same operation on eight lanes, which vectorizes.
MURMUR_MULTIVERSION
void PhiloxWords(uint64_t seed, uint32_t peer, RngPurpose purpose,
                 uint64_t first_counter, size_t n_blocks, uint32_t* out) {
  constexpr size_t kLanes = 8;
  const uint32_t key0 = static_cast<uint32_t>(seed);
  const uint32_t key1 = static_cast<uint32_t>(seed >> 32);
  const uint32_t purpose_word = static_cast<uint32_t>(purpose);
  for (size_t b = 0; b < n_blocks; b += kLanes) {
    const size_t lanes = n_blocks - b < kLanes ? n_blocks - b : kLanes;
    uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
    for (size_t l = 0; l < kLanes; ++l) {
      const uint64_t counter = first_counter + b + l;
      c0[l] = static_cast<uint32_t>(counter);
      c1[l] = static_cast<uint32_t>(counter >> 32);
      c2[l] = peer;
      c3[l] = purpose_word;
    }
    uint32_t k0 = key0, k1 = key1;
    for (int round = 0; round < 10; ++round) {
      for (size_t l = 0; l < kLanes; ++l) {
        const uint64_t p0 = static_cast<uint64_t>(kMul0) * c0[l];
        const uint64_t p1 = static_cast<uint64_t>(kMul1) * c2[l];
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
        const uint32_t n1 = static_cast<uint32_t>(p1);
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
        const uint32_t n3 = static_cast<uint32_t>(p0);
        c0[l] = n0;
        c1[l] = n1;
        c2[l] = n2;
        c3[l] = n3;
      }
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    for (size_t l = 0; l < lanes; ++l) {
      out[4 * (b + l) + 0] = c0[l];
      out[4 * (b + l) + 1] = c1[l];
      out[4 * (b + l) + 2] = c2[l];
      out[4 * (b + l) + 3] = c3[l];
    }
  }
}

}  // namespace murmur::compress_internal
