#include "murmur/protocol/round_barrier.h"

#include <algorithm>
#include <utility>

#include "murmur/core/check.h"

namespace murmur {

RoundBarrier::RoundBarrier(RoundBarrierOptions options, ExpectedSenders expected)
    : options_(std::move(options)), expected_(std::move(expected)) {
  MURMUR_CHECK(options_.window >= 0 && options_.catch_up_gap >= 2 && expected_ != nullptr);
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
                          ReceivedModel model) {
  Arrival arrival = Arrival::kStored;
  if (round < open_) {
    arrival = Arrival::kLate;
    down_.erase(from);  // alive again: waited for from the next round on
  } else if (static_cast<int64_t>(round.value) - open_.value > options_.window) {
    arrival = Arrival::kBeyondWindow;
    // Kept only as the sender's newest model, for catching up.
    const std::vector<PeerId> expected = expected_(round);
    if (std::binary_search(expected.begin(), expected.end(), from)) {
      auto [it, inserted] = ahead_.try_emplace(from, round, ReceivedModel());
      if (inserted || it->second.first < round) it->second = {round, std::move(model)};
    }
  } else {
    RoundInbox& inbox = Touch(round);
    if (!std::binary_search(inbox.expected.begin(), inbox.expected.end(), from)) {
      arrival = Arrival::kStranger;
    } else if (!inbox.arrived.try_emplace(from, std::move(model)).second) {
      arrival = Arrival::kDuplicate;
    } else {
      down_.erase(from);  // it is back
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
  std::optional<std::map<PeerId, std::pair<Round, const ReceivedModel*>>> newest;
  for (PeerId sender : inbox.expected) {
    if (inbox.arrived.count(sender) || down_.count(sender)) continue;
    const auto excused = excused_.find(sender);
    if (excused != excused_.end() && open_ < excused->second) continue;
    if (options_.skip_senders_ahead || returned_.count(sender)) {
      // Ahead by 2 for peers resumed from persisted states, by 1 for one
      // that came back (MarkUp).
      const uint32_t ahead = returned_.count(sender) ? 1 : 2;
      if (!newest.has_value()) newest = NewestModels();
      const auto it = newest->find(sender);
      if (it != newest->end() && it->second.first.value >= open_.value + ahead) continue;
    }
    return false;
  }
  return true;
}

std::map<PeerId, std::pair<Round, const ReceivedModel*>> RoundBarrier::NewestModels() const {
  std::map<PeerId, std::pair<Round, const ReceivedModel*>> newest;
  for (const auto& [round, inbox] : rounds_) {  // ascending: later rounds overwrite
    for (const auto& [peer, model] : inbox.arrived) newest[peer] = {round, &model};
  }
  for (const auto& [peer, kept] : ahead_) newest[peer] = {kept.first, &kept.second};
  return newest;
}

std::optional<Round> RoundBarrier::CatchUpRound() {
  const Round probe(static_cast<uint32_t>(open_.value + options_.catch_up_gap));
  const std::vector<PeerId> expected = expected_(probe);
  const auto newest = NewestModels();
  std::optional<Round> target;
  for (PeerId sender : expected) {
    if (down_.count(sender)) continue;
    const auto it = newest.find(sender);
    if (it == newest.end() || it->second.first < probe) return std::nullopt;
    if (!target.has_value() || it->second.first < *target) target = it->second.first;
  }
  return target;
}

ArrivedModels RoundBarrier::JumpTo(Round r) {
  MURMUR_CHECK(r > open_);
  ArrivedModels newest;
  for (const auto& [peer, entry] : NewestModels()) {
    if (entry.first < r) continue;
    newest.emplace(peer, *entry.second);
    // A sender already past r closed r without this peer and will not send
    // it again: it is not waited for before the round of its newest model.
    if (entry.first > r) excused_[peer] = entry.first;
  }
  rounds_.erase(rounds_.begin(), rounds_.lower_bound(r));
  open_ = r;
  waiting_ = false;
  FileAheadModels();
  for (const auto& [peer, model] : newest) down_.erase(peer);
  return newest;
}

void RoundBarrier::FileAheadModels() {
  for (auto it = ahead_.begin(); it != ahead_.end();) {
    const Round round = it->second.first;
    if (round < open_) {
      it = ahead_.erase(it);
    } else if (static_cast<int64_t>(round.value) - open_.value <= options_.window) {
      Touch(round).arrived.try_emplace(it->first, std::move(it->second.second));
      it = ahead_.erase(it);
    } else {
      ++it;
    }
  }
}

bool RoundBarrier::TimedOut(MetricsSink& metrics, TimerId timer) {
  if (!waiting_ || options_.timeout.ns <= 0 || timer != timer_) return false;
  if (!timeout_counter_.empty()) metrics.Count(timeout_counter_, 1);
  return true;
}

ArrivedModels RoundBarrier::Close() {
  ArrivedModels arrived;
  auto it = rounds_.find(open_);
  if (it != rounds_.end()) {
    arrived = std::move(it->second.arrived);
    rounds_.erase(it);
  }
  open_ = Round(open_.value + 1);
  waiting_ = false;
  FileAheadModels();
  std::erase_if(excused_, [this](const auto& entry) { return entry.second <= open_; });
  return arrived;
}

size_t RoundBarrier::buffered_models() const {
  size_t n = ahead_.size();
  for (const auto& [round, inbox] : rounds_) n += inbox.arrived.size();
  return n;
}

}  // namespace murmur
