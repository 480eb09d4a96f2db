// A fixed pool of worker threads running index-parallel loops. Used by the
// simulator to run many peers' compute at once; results are applied by the
// caller in a fixed order, so thread count never changes a run's outcome.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace murmur {

// Thread-safe to construct and destroy from one owner thread; ParallelFor
// must be called from one thread at a time.
class ThreadPool {
 public:
  // REQUIRES: threads >= 1. With 1 thread, work runs on the caller.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Calls fn(i) for every i in [0, n) across the pool and returns when all
  // calls have finished. fn must not throw.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

 private:
  void WorkerLoop();
  void RunChunk();

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  size_t next_ = 0;
  size_t finished_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace murmur
