// The runtime includes Asio only through this header. Asio chooses how it
// allocates handler memory (std::aligned_alloc or operator new) from the
// C++ library's configuration macros (_GLIBCXX_HAVE_ALIGNED_ALLOC, from
// <bits/c++config.h>), so a translation unit that includes <asio.hpp>
// before any standard header compiles asio::detail::aligned_new/delete
// differently from one that does not: an ODR violation that ASan reports
// as alloc-dealloc-mismatch. A standard header first makes every unit
// agree.
#pragma once

// clang-format off
#include <cstddef>
#include <asio.hpp>
// clang-format on
