#include "murmur/experiment/peer_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

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
    for (const EvalRow& r : rows) {
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

}  // namespace murmur
