// Hot loops of compress/ are plain C++ written so the compiler vectorizes
// them. The build targets baseline x86-64 (SSE2); MURMUR_MULTIVERSION also
// compiles an AVX2 clone picked at load time. Clones only change instruction
// selection: the loops are elementwise or integer, and ISO C++ mode disables
// FMA contraction, so results are bit-identical on every machine.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MURMUR_NO_MULTIVERSION)
#define MURMUR_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MURMUR_MULTIVERSION
#endif
