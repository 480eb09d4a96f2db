// Coordinate-wise order statistics (median, trimmed mean, mean around the
// median) over n input vectors, vectorized across coordinates: a block of
// W coordinates of all n inputs is copied into an n x W scratch in L1, and a
// comparator network (each comparator a vector min/max of two rows) orders
// every coordinate's n values at once. No branches depend on the data, so
// the cost is the same for any input and the result does not depend on the
// input order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/thread_pool.h"
#include "murmur/robust/aggregator.h"

namespace murmur::robust_internal {

// A compare-exchange: after it, row lo holds the min and row hi the max.
struct Comparator {
  uint32_t lo;
  uint32_t hi;
};

// Batcher's odd-even merge sort (Batcher, 1968, "Sorting networks and their
// applications") for n inputs: the network for the next power of two with
// every comparator touching an index >= n removed (those indices act as +inf
// padding, so the removed comparators would be no-ops).
std::vector<Comparator> OddEvenMergeSortNetwork(size_t n);

// The comparators of `network` that can affect the values at `outputs`
// (a backward pass keeping every comparator that touches a live row).
std::vector<Comparator> PruneNetwork(const std::vector<Comparator>& network,
                                     size_t n, std::span<const size_t> outputs);

// Moves the `trim` smallest values to rows [0, trim) and the `trim` largest
// to rows [n - trim, n) by repeated min/max chains (about 2 * trim * n
// comparators; smaller than a sort for small trim).
std::vector<Comparator> ExtremesChains(size_t n, size_t trim);

enum class OrderStatisticKind {
  kMedian,            // middle value; mean of the two middle ones for even n
  kTrimmedMean,       // mean of rows [param, n - param) after ordering
  kMeanAroundMedian,  // mean of the param values nearest to the median
};

struct OrderStatisticPlan {
  OrderStatisticKind kind = OrderStatisticKind::kMedian;
  size_t n = 0;
  size_t param = 0;
  std::vector<Comparator> network;
};

// REQUIRES: n >= 1; for kTrimmedMean 2 * param < n; for kMeanAroundMedian
// 1 <= param <= n.
OrderStatisticPlan MakeOrderStatisticPlan(OrderStatisticKind kind, size_t n,
                                          size_t param);

// Computes the statistic of every coordinate into `out`. When `scan` is
// non-null, also flags non-finite inputs (see Aggregator::AggregateChecked).
// REQUIRES: vectors.size() == plan.n, all of out.size().
void RunOrderStatistic(const OrderStatisticPlan& plan, VectorList vectors,
                       std::span<float> out, ThreadPool* pool,
                       FinitenessScan* scan);

}  // namespace murmur::robust_internal
