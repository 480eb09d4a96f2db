#include "murmur/robust/centered_clipping.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "robust/parallel.h"
#include "robust/vectorize.h"

namespace murmur {
namespace {

using robust_internal::ForEachChunk;
using robust_internal::NumChunks;

MURMUR_VECTOR_CLONES
double SquaredDistanceToCenter(const float* x, const double* v, size_t len) {
  // Eight independent partial sums, combined in a fixed order.
  double acc[8] = {};
  size_t k = 0;
  for (; k + 8 <= len; k += 8) {
    for (size_t l = 0; l < 8; ++l) {
      const double diff = static_cast<double>(x[k + l]) - v[k + l];
      acc[l] += diff * diff;
    }
  }
  for (; k < len; ++k) {
    const double diff = static_cast<double>(x[k]) - v[k];
    acc[0] += diff * diff;
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

MURMUR_VECTOR_CLONES
void AddScaledDifference(const float* x, const double* v, double c, double* next,
                         size_t len) {
  for (size_t k = 0; k < len; ++k) next[k] += c * (static_cast<double>(x[k]) - v[k]);
}

}  // namespace

CenteredClipping::CenteredClipping(int f, CenteredClippingOptions options,
                                   ThreadPool* pool)
    : Aggregator(f, pool), options_(options) {
  MURMUR_CHECK(options.tau > 0 && options.iterations >= 1);
}

Status CenteredClipping::AggregateChecked(const CheckedInput& in, std::span<float> out,
                                          FinitenessScan* scan) const {
  if (scan != nullptr && ScanInputs(in, scan)) return Status::Ok();
  const size_t n = in.vectors.size();
  const size_t dim = in.dim;
  // The center in double, so x - v cannot overflow and repeated iterations
  // do not accumulate float rounding.
  std::vector<double> v(dim, 0.0);
  if (!in.reference.empty()) {
    for (size_t k = 0; k < dim; ++k) v[k] = static_cast<double>(in.reference[k]);
  }
  std::vector<double> next(dim);
  const size_t chunks = NumChunks(dim);
  std::vector<double> partial(chunks * n);
  std::vector<double> coef(n);
  for (int it = 0; it < options_.iterations; ++it) {
    ForEachChunk(dim, pool(), [&](size_t c, size_t begin, size_t end) {
      for (size_t i = 0; i < n; ++i) {
        partial[c * n + i] = SquaredDistanceToCenter(in.vectors[i].data() + begin,
                                                     v.data() + begin, end - begin);
      }
    });
    for (size_t i = 0; i < n; ++i) {
      double sq = 0;
      for (size_t c = 0; c < chunks; ++c) sq += partial[c * n + i];
      const double norm = std::sqrt(sq);
      coef[i] = (norm > options_.tau ? options_.tau / norm : 1.0) / static_cast<double>(n);
    }
    ForEachChunk(dim, pool(), [&](size_t, size_t begin, size_t end) {
      std::copy(v.begin() + begin, v.begin() + end, next.begin() + begin);
      for (size_t i = 0; i < n; ++i) {
        AddScaledDifference(in.vectors[i].data() + begin, v.data() + begin, coef[i],
                            next.data() + begin, end - begin);
      }
    });
    v.swap(next);
  }
  for (size_t k = 0; k < dim; ++k) out[k] = static_cast<float>(v[k]);
  return Status::Ok();
}

}  // namespace murmur
