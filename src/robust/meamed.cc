#include "murmur/robust/meamed.h"

#include "robust/order_statistics.h"

namespace murmur {

using robust_internal::MakeOrderStatisticPlan;
using robust_internal::OrderStatisticKind;

Status MeaMed::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                FinitenessScan* scan) const {
  const size_t n = in.vectors.size();
  const auto plan = MakeOrderStatisticPlan(OrderStatisticKind::kMeanAroundMedian, n,
                                           n - static_cast<size_t>(in.f));
  robust_internal::RunOrderStatistic(plan, in.vectors, out, pool(), scan);
  return Status::Ok();
}

}  // namespace murmur
