// Fixed coordinate chunking for the robust kernels. The chunk size never
// depends on the thread count, and per-chunk partial results are combined in
// chunk order, so a kernel's output is bit-identical for any pool.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <functional>

#include "murmur/core/thread_pool.h"

namespace murmur::robust_internal {

// Coordinates per parallel task: large enough to amortize scheduling, small
// enough that d = 1e5 still yields several tasks.
inline constexpr size_t kChunk = 16384;

inline size_t NumChunks(size_t dim) { return (dim + kChunk - 1) / kChunk; }

// A scratch buffer whose data() is 64-byte aligned, so 32-byte vector
// accesses never straddle cache lines (std::vector only guarantees 16).
template <typename T>
class AlignedScratch {
 public:
  explicit AlignedScratch(size_t count, T fill = T())
      : storage_(count + kPad, fill),
        data_(reinterpret_cast<T*>((reinterpret_cast<uintptr_t>(storage_.data()) + 63) &
                                   ~uintptr_t{63})) {}
  T* data() { return data_; }

 private:
  static constexpr size_t kPad = 64 / sizeof(T);
  std::vector<T> storage_;
  T* data_;
};

// Calls fn(chunk_index, begin, end) for every chunk of [0, dim), across
// `pool` when given.
inline void ForEachChunk(size_t dim, ThreadPool* pool,
                         const std::function<void(size_t, size_t, size_t)>& fn) {
  const size_t chunks = NumChunks(dim);
  auto run = [&](size_t c) {
    const size_t begin = c * kChunk;
    fn(c, begin, std::min(dim, begin + kChunk));
  };
  if (pool == nullptr || chunks <= 1) {
    for (size_t c = 0; c < chunks; ++c) run(c);
  } else {
    pool->ParallelFor(chunks, run);
  }
}

}  // namespace murmur::robust_internal
