// Function multi-versioning for the hot loops: each marked function is
// compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA) and the baseline,
// and the loader picks one per process (GNU ifunc). The build stays portable
// (no -march) while the kernels use wide vectors where the CPU has them.
// Define MURMUR_NO_CLONES to build the baseline only (e.g. to test it).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__linux__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(MURMUR_NO_CLONES)
#define MURMUR_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MURMUR_VECTOR_CLONES
#endif

namespace murmur::robust_internal {

// Adds 2^23 to the exponent field: the sum reaches bit 31 exactly when the
// exponent is all ones (NaN or Inf). OR-ing these over a vector and testing
// bit 31 is a branch-free, vectorizable finiteness check.
inline uint32_t NonFiniteBit(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return (bits & 0x7f800000u) + 0x00800000u;
}
inline bool NonFiniteSeen(uint32_t acc) { return (acc & 0x80000000u) != 0; }

}  // namespace murmur::robust_internal
