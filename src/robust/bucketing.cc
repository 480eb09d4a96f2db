#include "murmur/robust/bucketing.h"

#include <algorithm>
#include <numeric>

#include "murmur/robust/kernels.h"
#include "robust/kernels_internal.h"

namespace murmur {

Bucketing::Bucketing(int bucket_size, ThreadPool* pool)
    : PreAggregator(0, pool), bucket_size_(static_cast<size_t>(bucket_size)) {
  MURMUR_CHECK(bucket_size >= 1);
}

size_t Bucketing::OutputCount(size_t n) const {
  return (n + bucket_size_ - 1) / bucket_size_;
}

Status Bucketing::ApplyChecked(const CheckedInput& in,
                               std::vector<std::vector<float>>& out) const {
  if (in.rng == nullptr) {
    return Status::InvalidArgument(name(), ": needs an Rng (AggregationInput::rng) for "
                                           "its random permutation");
  }
  const size_t n = in.vectors.size();
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), size_t{0});
  in.rng->Shuffle(std::span<size_t>(perm));
  const size_t buckets = OutputCount(n);
  out.resize(buckets);
  std::vector<std::span<const float>> members;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t first = b * bucket_size_;
    const size_t last = std::min(n, first + bucket_size_);
    robust_internal::Gather(
        in.vectors, std::span<const size_t>(perm).subspan(first, last - first), members);
    out[b].resize(in.dim);
    MeanOf(members, out[b], pool());
  }
  return Status::Ok();
}

}  // namespace murmur
