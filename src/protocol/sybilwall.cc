#include "murmur/protocol/sybilwall.h"

#include <algorithm>
#include <cmath>

#include "murmur/core/check.h"
#include "murmur/protocol/sybilwall_message.h"

namespace murmur {

void SybilWallHistory::AddNeighbourModel(PeerId neighbour, uint32_t round,
                                         std::span<const float> model) {
  MURMUR_CHECK(neighbour != self_);
  SybilWallRecord& record = records_[neighbour];
  auto last = last_model_.find(neighbour);
  const bool own_record = record.distance == 1 && last != last_model_.end();
  if (!own_record) {
    // The first model from this neighbour (any gossiped record of it is
    // superseded): the history starts as the model itself.
    record.history.assign(model.begin(), model.end());
  } else {
    MURMUR_CHECK(record.history.size() == model.size());
    for (size_t i = 0; i < model.size(); ++i) record.history[i] += model[i] - last->second[i];
  }
  record.finite = std::all_of(record.history.begin(), record.history.end(),
                              [](float v) { return std::isfinite(v); });
  record.origin = neighbour;
  record.round = round;
  record.distance = 1;
  record.received_from = neighbour;
  last_model_[neighbour].assign(model.begin(), model.end());
}

bool SybilWallHistory::AddGossiped(PeerId from, PeerId origin, uint32_t round,
                                   uint32_t distance, std::vector<float> history) {
  if (origin == self_ || distance >= kSybilWallMaxDistance) return false;
  auto it = records_.find(origin);
  if (it != records_.end() && !(round > it->second.round && it->second.distance > 1)) {
    return false;
  }
  records_[origin] = SybilWallRecord{.origin = origin,
                                     .round = round,
                                     .distance = distance + 1,
                                     .received_from = from,
                                     .history = std::move(history)};
  return true;
}

double SybilWallHistory::Preference(uint32_t distance) const {
  return lambda_ * std::exp(-lambda_ * (static_cast<double>(distance) - 1.0));
}

std::vector<std::pair<PeerId, double>> SybilWallHistory::SelectionProbabilities(
    PeerId receiver) const {
  std::vector<std::pair<PeerId, double>> out;
  double total = 0;
  for (const auto& [origin, record] : records_) {
    if (origin == receiver || record.received_from == receiver || !record.finite) continue;
    const double w = Preference(record.distance);
    if (!(w > 0)) continue;  // far enough to underflow: never drawn
    out.emplace_back(origin, w);
    total += w;
  }
  for (auto& [origin, p] : out) p /= total;
  return out;
}

const SybilWallRecord* SybilWallHistory::ChooseFor(PeerId receiver, Rng& rng) const {
  const std::vector<std::pair<PeerId, double>> p = SelectionProbabilities(receiver);
  if (p.empty()) return nullptr;
  const double u = rng.Uniform();
  double cumulative = 0;
  for (const auto& [origin, probability] : p) {
    cumulative += probability;
    if (u < cumulative) return &records_.at(origin);
  }
  return &records_.at(p.back().first);  // u within rounding of 1
}

Status SybilWallHistory::Aggregate(
    std::span<float> own, std::span<const std::pair<PeerId, std::span<const float>>> arrived,
    const SimilarityScoreOptions& score, std::vector<double>* weights) const {
  std::vector<std::span<const float>> models;
  std::vector<std::span<const float>> histories;
  for (const auto& [neighbour, model] : arrived) {
    auto it = records_.find(neighbour);
    MURMUR_CHECK(it != records_.end() && it->second.distance == 1);
    models.push_back(model);
    histories.emplace_back(it->second.history);
  }
  for (const auto& [origin, record] : records_) {
    bool is_arrived = false;
    for (const auto& a : arrived) is_arrived = is_arrived || a.first == origin;
    if (!is_arrived) histories.emplace_back(record.history);
  }
  return SybilWallAggregate(own, models, histories, score, weights);
}

}  // namespace murmur
