// The thread NetHost runs compute tasks on (Host::RunCompute): one task at
// a time, off the event loop. Private to the runtime.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "murmur/core/host.h"

namespace murmur::net {

class ComputeWorker {
 public:
  // Called on the worker thread after a task's work ran, with its tag:
  // it must hand the completion to the loop (e.g. asio::post), where the
  // loop calls Finished() before delivering it.
  using Done = std::function<void(uint64_t tag)>;

  ComputeWorker() = default;
  // Waits for a running task's work to end, then joins the thread.
  ~ComputeWorker();
  ComputeWorker(const ComputeWorker&) = delete;
  ComputeWorker& operator=(const ComputeWorker&) = delete;

  // Starts the thread. Call once.
  void Start(Done done);
  // Hands `task` to the thread. REQUIRES: no task in flight (the previous
  // one's Finished() was called).
  void Run(ComputeTask task);
  // The loop took the completion of the task in flight.
  void Finished();

 private:
  void Loop();

  Done done_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<ComputeTask> task_;
  bool busy_ = false;
  bool exit_ = false;
};

}  // namespace murmur::net
