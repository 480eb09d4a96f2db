#include "runtime/compute_worker.h"

#include <utility>

#include "murmur/core/check.h"

namespace murmur::net {

ComputeWorker::~ComputeWorker() {
  {
    std::lock_guard lock(mu_);
    exit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ComputeWorker::Start(Done done) {
  done_ = std::move(done);
  thread_ = std::thread([this] { Loop(); });
}

void ComputeWorker::Run(ComputeTask task) {
  std::lock_guard lock(mu_);
  MURMUR_CHECK(!task_.has_value() && !busy_);  // one task in flight
  busy_ = true;
  task_ = std::move(task);
  cv_.notify_all();
}

void ComputeWorker::Finished() {
  std::lock_guard lock(mu_);
  busy_ = false;
}

void ComputeWorker::Loop() {
  for (;;) {
    ComputeTask task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return exit_ || task_.has_value(); });
      if (exit_) return;
      task = std::move(*task_);
      task_.reset();
    }
    task.work();
    done_(task.tag);
  }
}

}  // namespace murmur::net
