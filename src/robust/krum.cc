#include "murmur/robust/krum.h"

#include <algorithm>

#include "murmur/robust/kernels.h"
#include "robust/kernels_internal.h"

namespace murmur {
namespace {

// Distances with the finiteness check fused into the Gram pass. Returns
// false when `scan` found a non-finite input.
bool Distances(const CheckedInput& in, ThreadPool* pool, FinitenessScan* scan,
               std::vector<double>& sq_dist) {
  const size_t n = in.vectors.size();
  if (scan != nullptr) scan->flags.assign(n, 0);
  std::vector<double> gram = robust_internal::GramMatrixScan(
      in.vectors, pool, scan ? scan->flags.data() : nullptr);
  if (scan != nullptr && scan->any()) return false;
  sq_dist = SquaredDistancesFromGram(gram, n);
  return true;
}

}  // namespace

namespace {

// Per input: the Krum score and the sum of all its distances, both summed
// over the sorted row so the rounding does not depend on the input order.
void ScoreRows(std::span<const double> sq_dist, size_t n, size_t neighbours,
               std::vector<double>& scores, std::vector<double>* totals) {
  MURMUR_CHECK(sq_dist.size() == n * n && (n == 0 || neighbours <= n - 1));
  scores.assign(n, 0.0);
  if (totals != nullptr) totals->assign(n, 0.0);
  std::vector<double> row;
  for (size_t i = 0; i < n; ++i) {
    row.clear();
    for (size_t j = 0; j < n; ++j) {
      if (j != i) row.push_back(sq_dist[i * n + j]);
    }
    std::sort(row.begin(), row.end());
    double s = 0;
    for (size_t k = 0; k < row.size(); ++k) {
      if (k == neighbours) scores[i] = s;
      s += row[k];
    }
    if (neighbours == row.size()) scores[i] = s;
    if (totals != nullptr) (*totals)[i] = s;
  }
}

}  // namespace

std::vector<double> KrumScores(std::span<const double> sq_dist, size_t n,
                               size_t neighbours) {
  std::vector<double> scores;
  ScoreRows(sq_dist, n, neighbours, scores, nullptr);
  return scores;
}

std::vector<size_t> KrumRanking(std::span<const double> sq_dist, size_t n,
                                size_t neighbours) {
  std::vector<double> scores, totals;
  ScoreRows(sq_dist, n, neighbours, scores, &totals);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (scores[a] != scores[b]) return scores[a] < scores[b];
    if (totals[a] != totals[b]) return totals[a] < totals[b];
    return a < b;
  });
  return order;
}

Status Krum::AggregateChecked(const CheckedInput& in, std::span<float> out,
                              FinitenessScan* scan) const {
  std::vector<double> sq_dist;
  if (!Distances(in, pool(), scan, sq_dist)) return Status::Ok();
  const size_t n = in.vectors.size();
  const size_t best = KrumRanking(sq_dist, n, n - static_cast<size_t>(in.f) - 2)[0];
  std::copy(in.vectors[best].begin(), in.vectors[best].end(), out.begin());
  return Status::Ok();
}

MultiKrum::MultiKrum(int f, int m, ThreadPool* pool) : Aggregator(f, pool), m_(m) {
  MURMUR_CHECK(m >= 0);
}

Status MultiKrum::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                   FinitenessScan* scan) const {
  std::vector<double> sq_dist;
  if (!Distances(in, pool(), scan, sq_dist)) return Status::Ok();
  const size_t n = in.vectors.size();
  std::vector<size_t> ranking = KrumRanking(sq_dist, n, n - static_cast<size_t>(in.f) - 2);
  const size_t m = m_ == 0 ? n - static_cast<size_t>(in.f)
                           : std::min(n, static_cast<size_t>(m_));
  ranking.resize(m);
  std::vector<std::span<const float>> chosen;
  robust_internal::Gather(in.vectors, ranking, chosen);
  MeanOf(chosen, out, pool());
  return Status::Ok();
}

}  // namespace murmur
