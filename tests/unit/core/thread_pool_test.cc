#include "murmur/core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace murmur {
namespace {

TEST(ThreadPool, CallsEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (size_t n : {0u, 1u, 7u, 1000u}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](size_t i) { hits[i].fetch_add(1); });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " " << n;
    }
  }
}

TEST(ThreadPool, IsReusableAcrossManyLoops) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum = 0;
  for (int round = 0; round < 200; ++round) {
    pool.ParallelFor(10, [&](size_t i) { sum.fetch_add(static_cast<int64_t>(i)); });
  }
  EXPECT_EQ(sum.load(), 200 * 45);
}

}  // namespace
}  // namespace murmur
