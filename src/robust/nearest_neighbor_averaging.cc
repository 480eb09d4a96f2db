#include "murmur/robust/nearest_neighbor_averaging.h"

#include "murmur/robust/kernels.h"
#include "robust/kernels_internal.h"

namespace murmur {

Status NearestNeighborAveraging::AggregateChecked(const CheckedInput& in,
                                                  std::span<float> out,
                                                  FinitenessScan* scan) const {
  if (scan != nullptr && ScanInputs(in, scan)) return Status::Ok();
  const size_t keep = in.vectors.size() - static_cast<size_t>(in.f);
  std::vector<std::span<const float>> chosen;
  robust_internal::Gather(in.vectors, NearestTo(in.vectors, in.reference, keep, pool()),
                          chosen);
  MeanOf(chosen, out, pool());
  return Status::Ok();
}

}  // namespace murmur
