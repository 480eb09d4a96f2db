#include "murmur/experiment/eval_collector.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "murmur/learn/learner.h"

namespace murmur {

class EvalCollector::PeerSink final : public MetricsSink {
 public:
  PeerSink(EvalCollector& owner, PeerId peer) : owner_(owner), peer_(peer) {}
  void ReportModel(Round round, std::span<const float> params) override {
    owner_.OnModel(peer_, round, params);
  }
  void ReportTrainLoss(Round round, double loss) override { owner_.OnTrainLoss(round, loss); }
  void Count(std::string_view name, int64_t delta) override {
    owner_.counters_[std::string(name)] += delta;
  }
  bool IgnoresModels() const override { return !owner_.is_evaluated_[peer_.value]; }

 private:
  EvalCollector& owner_;
  const PeerId peer_;
};

EvalCollector::EvalCollector(const Model& model, const Dataset& test,
                             const EvalConfig& config, int64_t total_rounds,
                             std::vector<PeerId> evaluated, int64_t num_peers,
                             ThreadPool& pool,
                             std::function<CollectorContext()> context,
                             RunObserver observer)
    : model_(model),
      test_(test),
      config_(config),
      total_rounds_(total_rounds),
      is_evaluated_(static_cast<size_t>(num_peers), false),
      num_evaluated_(evaluated.size()),
      reports_per_row_(evaluated.size()),
      pool_(pool),
      context_(std::move(context)),
      observer_(std::move(observer)) {
  for (PeerId p : evaluated) is_evaluated_[p.value] = true;
  for (int64_t i = 0; i < num_peers; ++i) {
    sinks_.push_back(std::make_unique<PeerSink>(*this, PeerOf(i)));
  }
}

EvalCollector::~EvalCollector() = default;

MetricsSink* EvalCollector::SinkFor(PeerId peer) { return sinks_[peer.value].get(); }

std::string_view RunEndName(RunEnd end) {
  switch (end) {
    case RunEnd::kIncomplete: return "incomplete";
    case RunEnd::kRounds: return "rounds";
    case RunEnd::kTargetAcc: return "target_acc";
    case RunEnd::kTimeBudget: return "time_budget";
    case RunEnd::kByteBudget: return "byte_budget";
  }
  return "incomplete";
}

bool EvalCollector::IsEvalRound(int64_t round) const {
  return round == total_rounds_ || round % std::max<int64_t>(config_.every, 1) == 0 ||
         round == final_round_;
}

void EvalCollector::EndAfterRoundInProgress(RunEnd why) {
  if (final_round_ || finished_) return;
  // Round max_round_ + 1 is the first one no evaluated peer has reported, so
  // every evaluated peer's snapshot of it is still to come.
  final_round_ = std::min(max_round_ + 1, total_rounds_);
  final_reason_ = why;
}

void EvalCollector::OnTrainLoss(Round round, double loss) {
  const int64_t r = round.value;
  if (r > total_rounds_ || finished_) return;
  if (!rows_.empty() && r <= rows_.back().round) return;  // row already out
  LossSum& sum = losses_[r];
  sum.sum += loss;
  ++sum.count;
}

void EvalCollector::OnModel(PeerId peer, Round round, std::span<const float> params) {
  int64_t r = round.value;
  if (!is_evaluated_[peer.value]) return;
  if (r > max_round_) {
    max_round_ = r;
    if (observer_.on_round) observer_.on_round(r);
  }
  // A peer that jumps past the last row's round (a D-PSGD catch-up) counts
  // with its first model beyond it; its later ones are not wanted.
  bool beyond_final = false;
  if (final_round_ && r > *final_round_) {
    r = *final_round_;
    beyond_final = true;
  }
  if (!IsEvalRound(r) || r > total_rounds_ || finished_) return;
  if (!rows_.empty() && r <= rows_.back().round) return;  // already emitted
  Pending& pending = pending_[r];
  if (beyond_final && pending.models.contains(peer.value)) return;
  pending.models[peer.value].assign(params.begin(), params.end());
  pending.last_report = context_().now;
  if (pending.models.size() >= reports_per_row_) {
    // Earlier rounds still pending can no longer complete in order; emit
    // them with what they have so rows stay sorted by round.
    while (!finished_ && !pending_.empty() && pending_.begin()->first <= r) {
      auto it = pending_.begin();
      Emit(it->first, it->second);
      pending_.erase(it);
    }
  }
}

void EvalCollector::Flush() {
  for (auto& [round, pending] : pending_) {
    if (finished_) break;
    Emit(round, pending);
  }
  pending_.clear();
}

void EvalCollector::Emit(int64_t round, Pending& pending) {
  if (pending.models.empty()) return;  // only losses were reported
  std::vector<const std::vector<float>*> models;
  for (const auto& [peer, params] : pending.models) models.push_back(&params);
  std::vector<EvalStats> stats(models.size());
  pool_.ParallelFor(models.size(), [&](size_t i) {
    stats[i] = Evaluate(model_, *models[i], test_, config_.test_samples);
  });

  EvalRow row;
  row.round = round;
  row.time_s = pending.last_report.seconds();
  row.peers_evaluated = static_cast<int64_t>(models.size());
  row.acc_min = std::numeric_limits<double>::infinity();
  row.acc_max = -std::numeric_limits<double>::infinity();
  for (const EvalStats& s : stats) {
    row.acc_mean += s.accuracy;
    row.loss_mean += s.loss;
    row.acc_min = std::min(row.acc_min, s.accuracy);
    row.acc_max = std::max(row.acc_max, s.accuracy);
  }
  const auto count = static_cast<double>(models.size());
  row.acc_mean /= count;
  row.loss_mean /= count;

  // Consensus distance: mean over peers of ||x_i - mean(x)||_2.
  const size_t dim = models.front()->size();
  std::vector<double> mean(dim, 0.0);
  for (const auto* m : models) {
    for (size_t j = 0; j < dim; ++j) mean[j] += (*m)[j];
  }
  for (double& v : mean) v /= count;
  for (const auto* m : models) {
    double sq = 0;
    for (size_t j = 0; j < dim; ++j) {
      const double d = (*m)[j] - mean[j];
      sq += d * d;
    }
    row.consensus_dist += std::sqrt(sq);
  }
  row.consensus_dist /= count;

  const auto loss = losses_.find(round);
  row.train_loss = loss != losses_.end() && loss->second.count > 0
                       ? loss->second.sum / static_cast<double>(loss->second.count)
                       : std::nan("");
  losses_.erase(losses_.begin(), losses_.upper_bound(round));
  const CollectorContext ctx = context_();
  row.bytes_sent = ctx.bytes_sent;
  row.msgs_sent = ctx.msgs_sent;
  row.bytes_received = ctx.bytes_received;
  row.max_peer_bytes = ctx.max_peer_bytes;
  row.bytes_up = ctx.bytes_up;
  row.bytes_down = ctx.bytes_down;
  for (auto it = counters_.lower_bound("bytes_"); it != counters_.end() &&
                                                  it->first.starts_with("bytes_");
       ++it) {
    if (it->first.find("stage_") != std::string::npos) {
      row.stage_bytes[it->first] = static_cast<uint64_t>(it->second);
    }
  }
  if (epsilon_of_round_) row.epsilon = epsilon_of_round_(round);
  rows_.push_back(row);
  EndWith(row);
  if (observer_.on_row) observer_.on_row(row);
}

// When several reasons end the run at the same row, the configured rounds
// come first, then the target, then the budget.
void EvalCollector::EndWith(const EvalRow& row) {
  if (config_.target_acc && !target_reached_ && row.acc_mean >= *config_.target_acc) {
    target_reached_ = TargetReached{
        .round = row.round, .time_s = row.time_s, .bytes_sent = row.bytes_sent};
    finished_ = true;
    ended_by_ = RunEnd::kTargetAcc;
  }
  if (final_round_ && row.round >= *final_round_ && !finished_) {
    finished_ = true;
    ended_by_ = final_reason_;
  }
  if (row.round >= total_rounds_) {
    finished_ = true;
    ended_by_ = RunEnd::kRounds;
  }
}

std::vector<PeerId> SampleEvaluatedPeers(const std::vector<PeerId>& candidates,
                                         int64_t count, uint64_t seed) {
  std::vector<PeerId> out = candidates;
  if (count > 0 && static_cast<size_t>(count) < out.size()) {
    Rng rng(seed, PeerId(0), RngPurpose::kEvalSample);
    rng.Shuffle(std::span<PeerId>(out));
    out.resize(static_cast<size_t>(count));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace murmur
