// Hot loops of compress/ are plain C++ written so the compiler vectorizes
// them. The build targets baseline x86-64 (SSE2); MURMUR_MULTIVERSION also
// compiles an AVX2 clone picked at load time. Clones only change instruction
// selection: the loops are elementwise or integer, and ISO C++ mode disables
// FMA contraction, so results are bit-identical on every machine.
//
// Loops with float comparisons also need GCC's -fno-trapping-math to be
// if-converted and vectorized (MURMUR_MULTIVERSION_FP). It only lets the
// compiler ignore floating-point exception flags, which nothing here reads;
// values are unchanged.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MURMUR_NO_MULTIVERSION)
#define MURMUR_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MURMUR_MULTIVERSION
#endif

// Helpers inlined into such loops must carry the same option (GCC does not
// inline across differing optimize attributes): mark them MURMUR_FP_INLINE
// and keep library calls (std::min, std::abs) out of them.
#if defined(__GNUC__) && !defined(__clang__)
#define MURMUR_NO_TRAPPING_MATH __attribute__((optimize("no-trapping-math")))
#else
#define MURMUR_NO_TRAPPING_MATH
#endif
#define MURMUR_MULTIVERSION_FP MURMUR_MULTIVERSION MURMUR_NO_TRAPPING_MATH
#define MURMUR_FP_INLINE MURMUR_NO_TRAPPING_MATH inline
