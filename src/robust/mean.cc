#include "murmur/robust/mean.h"

#include <vector>

#include "robust/kernels_internal.h"

namespace murmur {

Status Mean::AggregateChecked(const CheckedInput& in, std::span<float> out,
                              FinitenessScan* scan) const {
  const size_t n = in.vectors.size();
  std::vector<double> coef(n, 1.0);
  double divisor = static_cast<double>(n);
  if (!in.weights.empty()) {
    coef.assign(in.weights.begin(), in.weights.end());
    divisor = 0;
    for (double w : coef) divisor += w;
  }
  // The finiteness check rides along the single pass over the inputs.
  if (scan != nullptr) scan->flags.assign(n, 0);
  robust_internal::LinearCombinationScan(in.vectors, coef, divisor, out, pool(),
                                         scan ? scan->flags.data() : nullptr);
  return Status::Ok();
}

}  // namespace murmur
