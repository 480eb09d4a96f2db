#include "murmur/core/thread_pool.h"

#include <cstdlib>
#include <exception>

#include "murmur/core/check.h"
#include "murmur/core/log.h"

namespace murmur {

ThreadPool::ThreadPool(int threads) : threads_(threads) {
  MURMUR_CHECK(threads >= 1);
  for (int i = 1; i < threads; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunChunk() {
  // Claims indices one at a time; called with mu_ unlocked.
  while (true) {
    size_t i;
    const std::function<void(size_t)>* fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fn_ == nullptr || next_ >= n_) return;
      i = next_++;
      fn = fn_;
    }
    try {
      (*fn)(i);
    } catch (const std::exception& e) {
      // Tasks must not throw (e.g. a LibTorch error); say what happened
      // instead of a bare std::terminate.
      Logf(LogLevel::kError, "murmur: task %zu of a parallel loop threw: %s", i, e.what());
      std::abort();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (++finished_ == n_) done_cv_.notify_all();
    }
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    RunChunk();
  }
}

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (threads_ == 1 || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    finished_ = 0;
    ++generation_;
  }
  work_cv_.notify_all();
  RunChunk();
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return finished_ == n_; });
  fn_ = nullptr;
}

}  // namespace murmur
