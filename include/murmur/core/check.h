// Invariant checks that stay active in every build mode (STYLE.md: broken
// invariants abort; fallible operations return Status instead).
#pragma once

#include <cstdio>
#include <cstdlib>

#define MURMUR_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: MURMUR_CHECK failed: %s\n", __FILE__,     \
                   __LINE__, #cond);                                         \
      std::abort();                                                          \
    }                                                                        \
  } while (0)
