#include "murmur/robust/coordinate_median.h"

#include "robust/order_statistics.h"

namespace murmur {

using robust_internal::MakeOrderStatisticPlan;
using robust_internal::OrderStatisticKind;

Status CoordinateMedian::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                          FinitenessScan* scan) const {
  const auto plan =
      MakeOrderStatisticPlan(OrderStatisticKind::kMedian, in.vectors.size(), 0);
  robust_internal::RunOrderStatistic(plan, in.vectors, out, pool(), scan);
  return Status::Ok();
}

}  // namespace murmur
