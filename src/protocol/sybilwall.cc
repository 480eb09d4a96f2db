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

void SybilWallHistory::Save(SnapshotWriter& out) const {
  out.U64(records_.size());
  for (const auto& [origin, record] : records_) {
    out.U32(origin.value);
    out.U32(record.round);
    out.U32(record.distance);
    out.U32(record.received_from.value);
    out.Floats(record.history);
    out.Bool(record.finite);
  }
  out.U64(last_model_.size());
  for (const auto& [neighbour, model] : last_model_) {
    out.U32(neighbour.value);
    out.Floats(model);
  }
}

void SybilWallHistory::Restore(SnapshotReader& in, size_t dim) {
  records_.clear();
  last_model_.clear();
  const auto check = [&in, dim](bool ok, PeerId peer, size_t floats) {
    if (in.ok() && !ok) {
      in.Fail(Status::Corrupt("snapshot: a SybilWall record or model of peer ", peer.value,
                              " (", floats, " floats, expected ", dim, ") does not fit"));
    }
  };
  const uint64_t records = in.Count("sybilwall.records", 25);
  for (uint64_t i = 0; i < records && in.ok(); ++i) {
    SybilWallRecord record;
    record.origin = PeerId(in.U32("sybilwall.origin"));
    record.round = in.U32("sybilwall.round");
    record.distance = in.U32("sybilwall.distance");
    record.received_from = PeerId(in.U32("sybilwall.received_from"));
    record.history = in.Floats("sybilwall.history");
    record.finite = in.Bool("sybilwall.finite");
    check(record.origin != self_ && record.history.size() == dim && record.distance >= 1 &&
              record.distance <= kSybilWallMaxDistance &&
              (record.distance > 1 || record.received_from == record.origin) &&
              records_.count(record.origin) == 0,
          record.origin, record.history.size());
    records_[record.origin] = std::move(record);
  }
  const uint64_t models = in.Count("sybilwall.last_models", 12);
  for (uint64_t i = 0; i < models && in.ok(); ++i) {
    const PeerId neighbour(in.U32("sybilwall.neighbour"));
    std::vector<float> model = in.Floats("sybilwall.last_model");
    check(neighbour != self_ && model.size() == dim && last_model_.count(neighbour) == 0,
          neighbour, model.size());
    last_model_[neighbour] = std::move(model);
  }
}

}  // namespace murmur
