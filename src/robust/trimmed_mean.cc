#include "murmur/robust/trimmed_mean.h"

#include "robust/order_statistics.h"

namespace murmur {

using robust_internal::MakeOrderStatisticPlan;
using robust_internal::OrderStatisticKind;

Status TrimmedMean::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                     FinitenessScan* scan) const {
  const auto plan = MakeOrderStatisticPlan(OrderStatisticKind::kTrimmedMean,
                                           in.vectors.size(), static_cast<size_t>(in.f));
  robust_internal::RunOrderStatistic(plan, in.vectors, out, pool(), scan);
  return Status::Ok();
}

}  // namespace murmur
