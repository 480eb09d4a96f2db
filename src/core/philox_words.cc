#include "murmur/core/philox_words.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MURMUR_HAVE_AVX2_PHILOX 1
#endif

namespace murmur {
namespace {

using philox::kMul0;
using philox::kMul1;
using philox::kWeyl0;
using philox::kWeyl1;

#ifdef MURMUR_HAVE_AVX2_PHILOX
// 32x32 -> 64-bit products of eight lanes, split into high and low words.
__attribute__((target("avx2"))) inline void MulHiLo(__m256i a, __m256i m, __m256i* hi,
                                                    __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(a, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xaa);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xaa);
}

// Eight blocks per iteration, one per 32-bit lane, then a 4x8 transpose
// into the stream's word order.
__attribute__((target("avx2"))) void PhiloxWordsAvx2(uint64_t seed, uint32_t peer,
                                                     uint32_t purpose, uint64_t first_counter,
                                                     size_t n_blocks, uint32_t* out) {
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(kMul0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(kMul1));
  size_t b = 0;
  for (; b + 8 <= n_blocks; b += 8) {
    alignas(32) uint32_t lo[8], hi[8];
    for (int l = 0; l < 8; ++l) {
      const uint64_t counter = first_counter + b + l;
      lo[l] = static_cast<uint32_t>(counter);
      hi[l] = static_cast<uint32_t>(counter >> 32);
    }
    __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo));
    __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi));
    __m256i c2 = _mm256_set1_epi32(static_cast<int>(peer));
    __m256i c3 = _mm256_set1_epi32(static_cast<int>(purpose));
    uint32_t k0 = static_cast<uint32_t>(seed);
    uint32_t k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < philox::kRounds; ++round) {
      __m256i hi0, lo0, hi1, lo1;
      MulHiLo(c0, m0, &hi0, &lo0);
      MulHiLo(c2, m1, &hi1, &lo1);
      c0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(k0)));
      c1 = lo1;
      c2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(k1)));
      c3 = lo0;
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    const __m256i t0 = _mm256_unpacklo_epi32(c0, c1);
    const __m256i t1 = _mm256_unpackhi_epi32(c0, c1);
    const __m256i t2 = _mm256_unpacklo_epi32(c2, c3);
    const __m256i t3 = _mm256_unpackhi_epi32(c2, c3);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2);  // blocks 0 | 4
    const __m256i u1 = _mm256_unpackhi_epi64(t0, t2);  // blocks 1 | 5
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3);  // blocks 2 | 6
    const __m256i u3 = _mm256_unpackhi_epi64(t1, t3);  // blocks 3 | 7
    __m256i* o = reinterpret_cast<__m256i*>(out + 4 * b);
    _mm256_storeu_si256(o + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
  }
  PhiloxWordsPortable(seed, peer, static_cast<RngPurpose>(purpose), first_counter + b,
                      n_blocks - b, out + 4 * b);
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

}  // namespace

void PhiloxWordsPortable(uint64_t seed, uint32_t peer, RngPurpose purpose,
                         uint64_t first_counter, size_t n_blocks, uint32_t* out) {
  const std::array<uint32_t, 2> key = {static_cast<uint32_t>(seed),
                                       static_cast<uint32_t>(seed >> 32)};
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint64_t counter = first_counter + b;
    const std::array<uint32_t, 4> words =
        Philox4x32({static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), peer,
                    static_cast<uint32_t>(purpose)},
                   key);
    for (int j = 0; j < 4; ++j) out[4 * b + j] = words[j];
  }
}

void PhiloxWords(uint64_t seed, uint32_t peer, RngPurpose purpose, uint64_t first_counter,
                 size_t n_blocks, uint32_t* out) {
#ifdef MURMUR_HAVE_AVX2_PHILOX
  if (HasAvx2()) {
    return PhiloxWordsAvx2(seed, peer, static_cast<uint32_t>(purpose), first_counter,
                           n_blocks, out);
  }
#endif
  PhiloxWordsPortable(seed, peer, purpose, first_counter, n_blocks, out);
}

}  // namespace murmur
