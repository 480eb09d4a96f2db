#include "testing/fake_host.h"

#include <utility>

#include "murmur/core/check.h"

namespace murmur::testing {

void FakeHost::Send(PeerId to, std::vector<uint8_t> message) {
  sent.push_back({to, std::move(message)});
}

TimerId FakeHost::StartTimer(Duration after) {
  timers.push_back(TimerId(next_timer_));
  return TimerId(next_timer_++);
}

void FakeHost::RunCompute(ComputeTask task) { compute.push_back(std::move(task)); }

void FakeHost::ReportBadPeer(PeerId peer, const Status& why) { bad_peers.push_back(peer); }

void FakeHost::ReportModel(Round round, std::span<const float> params) {
  models[round.value].assign(params.begin(), params.end());
}

void FakeHost::Count(std::string_view name, int64_t delta) {
  counters[std::string(name)] += delta;
}

void FakeHost::FinishCompute(Node& node) {
  MURMUR_CHECK(!compute.empty());
  ComputeTask task = std::move(compute.front());
  compute.erase(compute.begin());
  task.work();
  node.OnComputeDone(*this, task.tag);
}

}  // namespace murmur::testing
