#include "murmur/experiment/peer_metrics.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "murmur/experiment/run_plan.h"

namespace murmur {

std::vector<EvalRow> MergePeerRows(const std::vector<std::vector<EvalRow>>& per_peer,
                                   RowMerge merge) {
  struct Sum {
    EvalRow row;
    double train_sum = 0;
    int64_t train_count = 0;
    std::optional<EvalRow> first;  // kFirstReport: the earliest row
  };
  std::map<int64_t, Sum> by_round;
  for (const auto& rows : per_peer) {
    std::set<int64_t> seen;  // a restarted peer may report a round again
    for (const EvalRow& r : rows) {
      if (!seen.insert(r.round).second) continue;
      auto [it, fresh] = by_round.try_emplace(r.round);
      Sum& s = it->second;
      if (fresh) {
        s.row.round = r.round;
        s.row.acc_min = std::numeric_limits<double>::infinity();
        s.row.acc_max = -std::numeric_limits<double>::infinity();
      }
      s.row.bytes_received += r.bytes_received;
      s.row.max_peer_bytes = std::max(s.row.max_peer_bytes, r.max_peer_bytes);
      if (!s.first || r.time_s < s.first->time_s) s.first = r;
      const auto w = static_cast<double>(r.peers_evaluated);
      s.row.acc_mean += w * r.acc_mean;
      s.row.loss_mean += w * r.loss_mean;
      s.row.acc_min = std::min(s.row.acc_min, r.acc_min);
      s.row.acc_max = std::max(s.row.acc_max, r.acc_max);
      s.row.time_s = std::max(s.row.time_s, r.time_s);
      s.row.bytes_sent += r.bytes_sent;
      s.row.msgs_sent += r.msgs_sent;
      s.row.peers_evaluated += r.peers_evaluated;
      if (std::isfinite(r.train_loss)) {
        s.train_sum += r.train_loss;
        ++s.train_count;
      }
    }
  }
  std::vector<EvalRow> out;
  for (auto& [round, s] : by_round) {
    EvalRow row = s.row;
    const auto n = static_cast<double>(row.peers_evaluated);
    row.acc_mean = n > 0 ? row.acc_mean / n : std::nan("");
    row.loss_mean = n > 0 ? row.loss_mean / n : std::nan("");
    row.train_loss = s.train_count > 0 ? s.train_sum / static_cast<double>(s.train_count)
                                       : std::nan("");
    if (merge == RowMerge::kFirstReport) {
      row.acc_mean = s.first->acc_mean;
      row.acc_min = s.first->acc_min;
      row.acc_max = s.first->acc_max;
      row.loss_mean = s.first->loss_mean;
      row.time_s = s.first->time_s;
      row.peers_evaluated = s.first->peers_evaluated;
    }
    row.consensus_dist = std::nan("");
    out.push_back(row);
  }
  return out;
}

namespace {

// The largest epsilon of each round in the rows of `dir`/metrics.jsonl
// (null, an unbounded epsilon, is +infinity); unreadable lines are skipped.
void MaxEpsilonByRound(const std::string& dir, std::map<int64_t, double>& by_round) {
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("epsilon") || !j.contains("round") ||
        !j["round"].is_number_integer()) {
      continue;
    }
    const double eps = j["epsilon"].is_number() ? j["epsilon"].get<double>()
                                                : std::numeric_limits<double>::infinity();
    auto [it, fresh] = by_round.try_emplace(j["round"].get<int64_t>(), eps);
    if (!fresh) it->second = std::max(it->second, eps);
  }
}

}  // namespace

void SetMergedEpsilon(const RunConfig& config, const std::vector<std::string>& peer_dirs,
                      std::vector<EvalRow>& merged) {
  // RQM's epsilon needs the model's dimension: the rows that evaluated
  // peers wrote (the server's, for FedAvg) carry it.
  const bool rqm = ReportsRqmEpsilon(config);
  if (!rqm) {
    if (std::function<double(int64_t)> of_round = EpsilonOfRound(config, 0)) {
      for (EvalRow& row : merged) row.epsilon = of_round(row.round);
      return;
    }
  }
  if (!config.train.dp_sgd.enabled && !rqm) return;
  std::map<int64_t, double> by_round;
  for (const std::string& dir : peer_dirs) MaxEpsilonByRound(dir, by_round);
  for (EvalRow& row : merged) {
    if (auto it = by_round.find(row.round); it != by_round.end()) row.epsilon = it->second;
  }
}

}  // namespace murmur
