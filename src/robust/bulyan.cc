#include "murmur/robust/bulyan.h"

#include <algorithm>

#include "murmur/robust/kernels.h"
#include "murmur/robust/krum.h"
#include "robust/kernels_internal.h"
#include "robust/order_statistics.h"

namespace murmur {

Status Bulyan::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                FinitenessScan* scan) const {
  const size_t n = in.vectors.size();
  const size_t f = static_cast<size_t>(in.f);
  if (scan != nullptr) scan->flags.assign(n, 0);
  const std::vector<double> gram = robust_internal::GramMatrixScan(
      in.vectors, pool(), scan ? scan->flags.data() : nullptr);
  if (scan != nullptr && scan->any()) return Status::Ok();
  const std::vector<double> sq_dist = SquaredDistancesFromGram(gram, n);

  // Recursive Krum on the shrinking remainder; the distance matrix is
  // computed once and restricted to the remainder each round.
  const size_t theta = n - 2 * f;
  std::vector<size_t> remaining(n);
  for (size_t i = 0; i < n; ++i) remaining[i] = i;
  std::vector<size_t> selected;
  std::vector<double> sub;
  while (selected.size() < theta) {
    const size_t r = remaining.size();
    sub.assign(r * r, 0.0);
    for (size_t a = 0; a < r; ++a) {
      for (size_t b = 0; b < r; ++b) sub[a * r + b] = sq_dist[remaining[a] * n + remaining[b]];
    }
    const size_t neighbours = r >= f + 3 ? r - f - 2 : 0;
    const size_t pick = KrumRanking(sub, r, std::min(neighbours, r - 1))[0];
    selected.push_back(remaining[pick]);
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(pick));
  }

  std::vector<std::span<const float>> chosen;
  robust_internal::Gather(in.vectors, selected, chosen);
  const auto plan = robust_internal::MakeOrderStatisticPlan(
      robust_internal::OrderStatisticKind::kMeanAroundMedian, theta, theta - 2 * f);
  robust_internal::RunOrderStatistic(plan, chosen, out, pool(), nullptr);
  return Status::Ok();
}

}  // namespace murmur
