#include "robust/order_statistics.h"

#include <algorithm>
#include <cstring>

#include "murmur/core/check.h"
#include "robust/parallel.h"
#include "robust/vectorize.h"

namespace murmur::robust_internal {
namespace {

// Coordinates per block: 32 floats (128 bytes) are four AVX2 or two
// AVX-512 registers per row, and n x 32 floats stay in a 32 KiB L1 for n up
// to ~250.
constexpr size_t kLanes = 32;

// Every input's block four blocks ahead is prefetched while the network
// runs on this one, evenly spread over the comparators. With 50-100 inputs
// read 128 bytes at a time there are more streams than the hardware
// prefetchers track, and prefetching all of them in a burst would stall on
// the ~10 line fill buffers; spread over the network's work the loads hide
// behind it. `next` holds 2 line addresses per input (kLanes floats).
MURMUR_VECTOR_CLONES
void ApplyNetwork(const Comparator* comps, size_t count, float* rows,
                  const float* const* next, size_t next_lines) {
  // One prefetch every `every` comparators, evenly over the network.
  const size_t every = std::max<size_t>(1, count / std::max<size_t>(1, next_lines));
  size_t issued = 0;
  size_t countdown = 0;
  for (size_t c = 0; c < count; ++c) {
    if (countdown == 0 && issued < next_lines) {
      __builtin_prefetch(next[issued++]);
      countdown = every;
    }
    --countdown;
    float* lo = rows + comps[c].lo * kLanes;
    float* hi = rows + comps[c].hi * kLanes;
    for (size_t k = 0; k < kLanes; ++k) {
      const float a = lo[k];
      const float b = hi[k];
      lo[k] = b < a ? b : a;
      hi[k] = a < b ? b : a;
    }
  }
  while (issued < next_lines) __builtin_prefetch(next[issued++]);
}

// Copies one input's block into its scratch row (zero-padded past len).
// Full blocks take a fixed-length path the compiler turns into two vector
// moves; a memcpy call per 128-byte row would cost a quarter of the kernel.
MURMUR_VECTOR_CLONES
uint32_t LoadRow(const float* src, size_t len, float* row, bool check) {
  uint32_t nf = 0;
  if (len == kLanes) {
    for (size_t k = 0; k < kLanes; ++k) row[k] = src[k];
    if (check) {
      for (size_t k = 0; k < kLanes; ++k) nf |= NonFiniteBit(src[k]);
    }
    return nf;
  }
  for (size_t k = 0; k < len; ++k) {
    row[k] = src[k];
    nf |= NonFiniteBit(src[k]);
  }
  for (size_t k = len; k < kLanes; ++k) row[k] = 0.0f;
  return check ? nf : 0;
}

MURMUR_VECTOR_CLONES
void MedianOut(const float* rows, size_t n, float* out, size_t len) {
  const float* a = rows + ((n - 1) / 2) * kLanes;
  const float* b = rows + (n / 2) * kLanes;
  if (n % 2 == 1) {
    std::memcpy(out, a, len * sizeof(float));
  } else {
    // The midpoint in double: exact, cannot overflow, and rounded once (so
    // the median of two equal values, denormals included, is that value).
    for (size_t k = 0; k < len; ++k) {
      out[k] = static_cast<float>(0.5 * (static_cast<double>(a[k]) + b[k]));
    }
  }
}

MURMUR_VECTOR_CLONES
void RangeMeanOut(const float* rows, size_t first, size_t last, float* out, size_t len) {
  double acc[kLanes] = {};
  for (size_t r = first; r < last; ++r) {
    const float* row = rows + r * kLanes;
    for (size_t k = 0; k < kLanes; ++k) acc[k] += static_cast<double>(row[k]);
  }
  const double count = static_cast<double>(last - first);
  for (size_t k = 0; k < len; ++k) out[k] = static_cast<float>(acc[k] / count);
}

// Rows are sorted. Per coordinate, the `keep` values nearest to the median
// form a window [s, s + keep) of the sorted rows; the window minimizing the
// larger of its two end distances to the median is chosen, the lowest s on
// ties.
MURMUR_VECTOR_CLONES
void MeanAroundMedianOut(const float* rows, size_t n, size_t keep, float* out,
                         size_t len) {
  const float* a = rows + ((n - 1) / 2) * kLanes;
  const float* b = rows + (n / 2) * kLanes;
  double med[kLanes];
  for (size_t k = 0; k < kLanes; ++k) {
    med[k] = 0.5 * static_cast<double>(a[k]) + 0.5 * static_cast<double>(b[k]);
  }
  double best_cost[kLanes];
  double best_start[kLanes];
  for (size_t k = 0; k < kLanes; ++k) {
    best_cost[k] = __builtin_inf();
    best_start[k] = 0;
  }
  for (size_t s = 0; s + keep <= n; ++s) {
    const float* first = rows + s * kLanes;
    const float* last = rows + (s + keep - 1) * kLanes;
    const double sd = static_cast<double>(s);
    for (size_t k = 0; k < kLanes; ++k) {
      const double below = med[k] - static_cast<double>(first[k]);
      const double above = static_cast<double>(last[k]) - med[k];
      const double cost = below < above ? above : below;
      const bool better = cost < best_cost[k];
      best_cost[k] = better ? cost : best_cost[k];
      best_start[k] = better ? sd : best_start[k];
    }
  }
  double acc[kLanes] = {};
  for (size_t r = 0; r < n; ++r) {
    const float* row = rows + r * kLanes;
    const double rd = static_cast<double>(r);
    const double end_offset = static_cast<double>(keep);
    for (size_t k = 0; k < kLanes; ++k) {
      const bool in = rd >= best_start[k] && rd < best_start[k] + end_offset;
      acc[k] += in ? static_cast<double>(row[k]) : 0.0;
    }
  }
  const double count = static_cast<double>(keep);
  for (size_t k = 0; k < len; ++k) out[k] = static_cast<float>(acc[k] / count);
}

}  // namespace

std::vector<Comparator> OddEvenMergeSortNetwork(size_t n) {
  std::vector<Comparator> net;
  size_t size = 1;
  while (size < n) size <<= 1;
  // Knuth's iterative formulation (TAOCP vol. 3, 5.3.4, exercise 12).
  for (size_t p = 1; p < size; p <<= 1) {
    for (size_t k = p; k >= 1; k >>= 1) {
      for (size_t j = k % p; j + k < size; j += 2 * k) {
        for (size_t i = 0; i < std::min(k, size - j - k); ++i) {
          const size_t lo = i + j;
          const size_t hi = i + j + k;
          if (lo / (2 * p) == hi / (2 * p) && hi < n) {
            net.push_back({static_cast<uint32_t>(lo), static_cast<uint32_t>(hi)});
          }
        }
      }
    }
  }
  return net;
}

std::vector<Comparator> PruneNetwork(const std::vector<Comparator>& network, size_t n,
                                     std::span<const size_t> outputs) {
  std::vector<uint8_t> live(n, 0);
  for (size_t o : outputs) live[o] = 1;
  std::vector<Comparator> kept;
  for (auto it = network.rbegin(); it != network.rend(); ++it) {
    if (live[it->lo] || live[it->hi]) {
      live[it->lo] = live[it->hi] = 1;
      kept.push_back(*it);
    }
  }
  std::reverse(kept.begin(), kept.end());
  return kept;
}

std::vector<Comparator> ExtremesChains(size_t n, size_t trim) {
  std::vector<Comparator> net;
  for (size_t t = 0; t < trim; ++t) {
    const size_t top = n - 1 - t;
    // The minimum of rows [t, top] sinks to row t ...
    for (size_t j = top; j > t; --j) {
      net.push_back({static_cast<uint32_t>(j - 1), static_cast<uint32_t>(j)});
    }
    // ... and the maximum of rows [t + 1, top] rises to row top.
    for (size_t j = t + 1; j < top; ++j) {
      net.push_back({static_cast<uint32_t>(j), static_cast<uint32_t>(j + 1)});
    }
  }
  return net;
}

OrderStatisticPlan MakeOrderStatisticPlan(OrderStatisticKind kind, size_t n,
                                          size_t param) {
  MURMUR_CHECK(n >= 1);
  OrderStatisticPlan plan{.kind = kind, .n = n, .param = param, .network = {}};
  const std::vector<Comparator> sort = OddEvenMergeSortNetwork(n);
  switch (kind) {
    case OrderStatisticKind::kMedian: {
      const size_t outputs[] = {(n - 1) / 2, n / 2};
      plan.network = PruneNetwork(sort, n, outputs);
      break;
    }
    case OrderStatisticKind::kTrimmedMean: {
      MURMUR_CHECK(2 * param < n);
      if (param == 0) break;
      // Any network that puts the right multiset into the middle rows will
      // do; take the smallest of three.
      std::vector<size_t> middle, extremes;
      for (size_t r = 0; r < n; ++r) {
        (r >= param && r < n - param ? middle : extremes).push_back(r);
      }
      std::vector<Comparator> candidates[3] = {PruneNetwork(sort, n, middle),
                                               PruneNetwork(sort, n, extremes),
                                               ExtremesChains(n, param)};
      plan.network = std::move(*std::min_element(
          std::begin(candidates), std::end(candidates),
          [](const auto& a, const auto& b) { return a.size() < b.size(); }));
      break;
    }
    case OrderStatisticKind::kMeanAroundMedian:
      MURMUR_CHECK(param >= 1 && param <= n);
      plan.network = sort;
      break;
  }
  return plan;
}

void RunOrderStatistic(const OrderStatisticPlan& plan, VectorList vectors,
                       std::span<float> out, ThreadPool* pool, FinitenessScan* scan) {
  const size_t n = plan.n;
  MURMUR_CHECK(vectors.size() == n);
  const size_t dim = out.size();
  const bool check = scan != nullptr;
  std::vector<uint32_t> nf(check ? NumChunks(dim) * n : 0, 0);
  ForEachChunk(dim, pool, [&](size_t c, size_t begin, size_t end) {
    AlignedScratch<float> rows(n * kLanes);
    std::vector<const float*> next(2 * n);
    for (size_t b = begin; b < end; b += kLanes) {
      const size_t len = std::min(kLanes, end - b);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t bad =
            LoadRow(vectors[i].data() + b, len, rows.data() + i * kLanes, check);
        if (check) nf[c * n + i] |= bad;
      }
      // Four blocks ahead: far enough to cover DRAM latency, near enough to
      // stay in L1/L2. Prefetches never fault, so addresses past the end are
      // harmless.
      for (size_t i = 0; i < n; ++i) {
        next[2 * i] = vectors[i].data() + b + 4 * kLanes;
        next[2 * i + 1] = vectors[i].data() + b + 4 * kLanes + 16;
      }
      ApplyNetwork(plan.network.data(), plan.network.size(), rows.data(), next.data(),
                   2 * n);
      float* dst = out.data() + b;
      switch (plan.kind) {
        case OrderStatisticKind::kMedian:
          MedianOut(rows.data(), n, dst, len);
          break;
        case OrderStatisticKind::kTrimmedMean:
          RangeMeanOut(rows.data(), plan.param, n - plan.param, dst, len);
          break;
        case OrderStatisticKind::kMeanAroundMedian:
          MeanAroundMedianOut(rows.data(), n, plan.param, dst, len);
          break;
      }
    }
  });
  if (check) {
    scan->flags.assign(n, 0);
    for (size_t c = 0; c * n < nf.size(); ++c) {
      for (size_t i = 0; i < n; ++i) {
        if (NonFiniteSeen(nf[c * n + i])) scan->flags[i] = 1;
      }
    }
  }
}

}  // namespace murmur::robust_internal
