#include "murmur/protocol/round_barrier.h"

#include <algorithm>
#include <utility>

#include "murmur/core/check.h"

namespace murmur {

RoundBarrier::RoundBarrier(RoundBarrierOptions options, ExpectedSenders expected)
    : options_(std::move(options)), expected_(std::move(expected)) {
  MURMUR_CHECK(options_.window >= 0 && expected_ != nullptr);
  if (!options_.name.empty()) {
    counter_names_[static_cast<int>(Arrival::kLate)] = options_.name + ".late_models";
    counter_names_[static_cast<int>(Arrival::kDuplicate)] = options_.name + ".duplicate_models";
    counter_names_[static_cast<int>(Arrival::kBeyondWindow)] =
        options_.name + ".beyond_window_models";
    counter_names_[static_cast<int>(Arrival::kStranger)] = options_.name + ".stranger_models";
    timeout_counter_ = options_.name + "." + options_.timeout_counter;
  }
}

RoundBarrier::RoundBarrier(RoundBarrierOptions options, std::vector<PeerId> senders)
    : RoundBarrier(std::move(options),
                   [senders = std::move(senders)](Round) { return senders; }) {}

RoundBarrier::RoundInbox& RoundBarrier::Touch(Round round) {
  auto [it, inserted] = rounds_.try_emplace(round);
  if (inserted) {
    it->second.expected = expected_(round);
    MURMUR_CHECK(std::is_sorted(it->second.expected.begin(), it->second.expected.end()));
  }
  return it->second;
}

void RoundBarrier::Wait(Host& host) {
  waiting_ = true;
  if (options_.timeout.ns > 0) timer_ = host.StartTimer(options_.timeout);
}

Arrival RoundBarrier::Add(MetricsSink& metrics, Round round, PeerId from,
                          std::vector<float> model) {
  Arrival arrival = Arrival::kStored;
  if (round < open_) {
    arrival = Arrival::kLate;
  } else if (static_cast<int64_t>(round.value) - open_.value > options_.window) {
    arrival = Arrival::kBeyondWindow;
  } else {
    RoundInbox& inbox = Touch(round);
    if (!std::binary_search(inbox.expected.begin(), inbox.expected.end(), from)) {
      arrival = Arrival::kStranger;
    } else if (!inbox.arrived.try_emplace(from, std::move(model)).second) {
      arrival = Arrival::kDuplicate;
    }
  }
  CountOutcome(metrics, arrival);
  return arrival;
}

void RoundBarrier::CountOutcome(MetricsSink& metrics, Arrival arrival) const {
  const std::string& name = counter_names_[static_cast<int>(arrival)];
  if (!name.empty()) metrics.Count(name, 1);
}

bool RoundBarrier::complete() {
  const RoundInbox& inbox = Touch(open_);
  return inbox.arrived.size() == inbox.expected.size();
}

bool RoundBarrier::TimedOut(MetricsSink& metrics, TimerId timer) {
  if (!waiting_ || options_.timeout.ns <= 0 || timer != timer_) return false;
  if (!timeout_counter_.empty()) metrics.Count(timeout_counter_, 1);
  return true;
}

std::map<PeerId, std::vector<float>> RoundBarrier::Close() {
  std::map<PeerId, std::vector<float>> arrived;
  auto it = rounds_.find(open_);
  if (it != rounds_.end()) {
    arrived = std::move(it->second.arrived);
    rounds_.erase(it);
  }
  open_ = Round(open_.value + 1);
  waiting_ = false;
  return arrived;
}

size_t RoundBarrier::buffered_models() const {
  size_t n = 0;
  for (const auto& [round, inbox] : rounds_) n += inbox.arrived.size();
  return n;
}

}  // namespace murmur
