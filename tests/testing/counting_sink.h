// A thread-safe MetricsSink that keeps the counters and lets a test thread
// wait for one to reach a value while a host's event loop reports it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "murmur/core/host.h"

namespace murmur::testing {

class CountingSink final : public MetricsSink {
 public:
  void ReportModel(Round, std::span<const float>) override {}
  void ReportTrainLoss(Round, double) override {}
  void Count(std::string_view name, int64_t delta) override {
    {
      std::lock_guard lock(mu_);
      counters_[std::string(name)] += delta;
    }
    cv_.notify_all();
  }
  int64_t Get(const std::string& name) {
    std::lock_guard lock(mu_);
    return counters_[name];
  }
  // Waits (from another thread than the host's) until counter `name`
  // reaches `at_least`; false after 20 s.
  bool WaitFor(const std::string& name, int64_t at_least) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(20),
                        [&] { return counters_[name] >= at_least; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t> counters_;
};

}  // namespace murmur::testing
