// Vector kernels the robust rules are built from, public for attacks,
// tests, benchmarks and tools. All accumulate in double, are vectorized
// (compiled for x86-64-v4, x86-64-v3 and baseline x86-64, picked at load
// time) and split work into fixed coordinate chunks, so results are
// bit-identical for any `pool` (null runs on the caller). REQUIRES for
// every function taking a VectorList: all vectors have the same size (and
// the size of `out` or `point` where given).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "murmur/core/thread_pool.h"
#include "murmur/robust/aggregator.h"

namespace murmur {

// True when some element of v is NaN or +-Inf.
bool HasNonFinite(std::span<const float> v);

// flags[i] = 1 when vectors[i] has a non-finite element, else 0. Returns the
// number of flagged vectors. REQUIRES: flags.size() == vectors.size().
size_t FlagNonFinite(VectorList vectors, std::span<uint8_t> flags,
                     ThreadPool* pool = nullptr);

// The Gram matrix G (row-major n x n, symmetric): G[i*n+j] = <x_i, x_j>,
// computed blockwise over the coordinates in double. Each entry's rounding
// depends only on the two vectors, not on their positions in the list.
std::vector<double> GramMatrix(VectorList vectors, ThreadPool* pool = nullptr);

// Pairwise squared Euclidean distances from a Gram matrix:
// D[i*n+j] = max(0, G_ii + G_jj - 2 G_ij); D_ii = 0.
std::vector<double> SquaredDistancesFromGram(std::span<const double> gram,
                                             size_t n);

// ||x_i - point||^2 for every i, accumulated in double.
std::vector<double> SquaredDistancesTo(VectorList vectors,
                                       std::span<const float> point,
                                       ThreadPool* pool = nullptr);

// ||x_i||^2 for every i, accumulated in double.
std::vector<double> SquaredNorms(VectorList vectors, ThreadPool* pool = nullptr);

// out[k] = (sum_i coef_i * x_i[k]) / divisor, accumulated in double and
// rounded to float once. REQUIRES: coef.size() == vectors.size(),
// divisor != 0, vectors non-empty.
void LinearCombination(VectorList vectors, std::span<const double> coef,
                       double divisor, std::span<float> out,
                       ThreadPool* pool = nullptr);

// out = arithmetic mean of vectors, accumulated in double.
// REQUIRES: vectors non-empty.
void MeanOf(VectorList vectors, std::span<float> out, ThreadPool* pool = nullptr);

// Indices of the k smallest values, ordered by (value, index): ties go to
// the lower index, so the choice is deterministic. REQUIRES: k <= size.
std::vector<size_t> SmallestK(std::span<const double> values, size_t k);

// The k inputs nearest to `point` in Euclidean distance, nearest first, ties
// to the lower index. Bristle's distance-based prioritizer and MoNNA's
// nearest-neighbour step select with this. REQUIRES: k <= vectors.size().
std::vector<size_t> NearestTo(VectorList vectors, std::span<const float> point,
                              size_t k, ThreadPool* pool = nullptr);

}  // namespace murmur
