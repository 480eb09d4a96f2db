#include "murmur/robust/kernels.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "murmur/core/check.h"
#include "robust/kernels_internal.h"
#include "robust/parallel.h"
#include "robust/vectorize.h"

// The 32-byte vector helpers below are inlined into their callers; GCC's
// note that passing them by value would change the ABI without AVX does not
// apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace murmur {
namespace {

using robust_internal::ForEachChunk;
using robust_internal::NonFiniteBit;
using robust_internal::NonFiniteSeen;
using robust_internal::NumChunks;

// Four doubles: one AVX2 register, two SSE2 registers in the baseline clone.
typedef double V4 __attribute__((vector_size(32)));
typedef float F4 __attribute__((vector_size(16)));

inline V4 LoadV4(const double* p) {
  V4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// Through an out-parameter: clang refuses a 32-byte vector return value in
// the baseline (non-AVX) clone, whose ABI would differ; a reference is a
// pointer either way, and once inlined the code is the same.
inline void LoadF4AsV4(const float* p, V4& out) {
  F4 v;
  std::memcpy(&v, p, sizeof v);
  out = __builtin_convertvector(v, V4);
}
// Fixed pairing, so every caller rounds the same way.
inline double Sum(const V4& v) { return (v[0] + v[1]) + (v[2] + v[3]); }

MURMUR_VECTOR_CLONES
uint32_t NonFiniteAcc(const float* x, size_t len) {
  uint32_t acc = 0;
  for (size_t k = 0; k < len; ++k) acc |= NonFiniteBit(x[k]);
  return acc;
}

// sum_k (x[k] - p[k])^2 over len elements, in double; p == nullptr means 0.
MURMUR_VECTOR_CLONES
double SquaredDistanceSpan(const float* x, const float* p, size_t len) {
  V4 acc0 = {0, 0, 0, 0}, acc1 = {0, 0, 0, 0};
  size_t k = 0;
  if (p != nullptr) {
    for (; k + 8 <= len; k += 8) {
      V4 xa, pa, xb, pb;
      LoadF4AsV4(x + k, xa);
      LoadF4AsV4(p + k, pa);
      LoadF4AsV4(x + k + 4, xb);
      LoadF4AsV4(p + k + 4, pb);
      V4 a = xa - pa;
      V4 b = xb - pb;
      acc0 += a * a;
      acc1 += b * b;
    }
  } else {
    for (; k + 8 <= len; k += 8) {
      V4 a, b;
      LoadF4AsV4(x + k, a);
      LoadF4AsV4(x + k + 4, b);
      acc0 += a * a;
      acc1 += b * b;
    }
  }
  double tail = 0;
  for (; k < len; ++k) {
    double v = static_cast<double>(x[k]) - (p ? static_cast<double>(p[k]) : 0.0);
    tail += v * v;
  }
  return Sum(acc0 + acc1) + tail;
}

// Per-coordinate linear combination over [begin, end), in blocks that keep
// the double accumulator in L1.
constexpr size_t kCombineBlock = 1024;

MURMUR_VECTOR_CLONES
void CombineBlock(const float* x, double c, double* acc, size_t len) {
  if (c == 1.0) {
    for (size_t k = 0; k < len; ++k) acc[k] += static_cast<double>(x[k]);
  } else {
    for (size_t k = 0; k < len; ++k) acc[k] += c * static_cast<double>(x[k]);
  }
}

MURMUR_VECTOR_CLONES
uint32_t CombineBlockScan(const float* x, double c, double* acc, size_t len) {
  uint32_t nf = 0;
  if (c == 1.0) {
    for (size_t k = 0; k < len; ++k) {
      acc[k] += static_cast<double>(x[k]);
      nf |= NonFiniteBit(x[k]);
    }
  } else {
    for (size_t k = 0; k < len; ++k) {
      acc[k] += c * static_cast<double>(x[k]);
      nf |= NonFiniteBit(x[k]);
    }
  }
  return nf;
}

MURMUR_VECTOR_CLONES
void FinishBlock(const double* acc, double divisor, float* out, size_t len) {
  for (size_t k = 0; k < len; ++k) out[k] = static_cast<float>(acc[k] / divisor);
}

// Gram kernel: coordinates are packed per block into double rows (so each
// conversion is done once per block, not once per pair), and pairs are
// computed in MR x 4 register tiles over the lower triangle. The j rows of a
// group of kGramGroup rows stay in L1 while every i tile streams past them
// from L2 (the packed block is n x 2 KiB), which cuts L2 traffic ~3x against
// streaming the j rows. Each pair's arithmetic is the same whichever tile
// computes it, so G_ij does not depend on the input order.
constexpr size_t kGramBlock = 256;
// 16 KiB of j rows plus an 8 KiB i tile: room to spare in a 32 KiB L1.
constexpr size_t kGramGroup = 8;

// Prefetches the coordinates of the block after this one, a few cache lines
// per tile so the loads spread over the compute instead of stalling in a
// burst on the fill buffers (inputs are n separate streams, more than the
// hardware prefetchers follow).
struct BlockPrefetcher {
  VectorList x;
  size_t begin = 0;  // first coordinate of the block to prefetch
  size_t len = 0;    // its length (0: nothing to prefetch)
  size_t input = 0;
  size_t offset = 0;
  void Step(size_t lines) {
    for (size_t l = 0; l < lines && input < x.size(); ++l) {
      __builtin_prefetch(x[input].data() + begin + offset);
      offset += 16;
      if (offset >= len) {
        offset = 0;
        ++input;
      }
    }
  }
};

typedef double V8 __attribute__((vector_size(64)));

template <typename V>
__attribute__((always_inline)) inline V LoadVec(const double* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Lanes summed in a fixed pairwise order.
template <typename V>
__attribute__((always_inline)) inline double SumLanes(const V& v) {
  constexpr size_t kL = sizeof(V) / sizeof(double);
  if constexpr (kL == 4) {
    return (v[0] + v[1]) + (v[2] + v[3]);
  } else {
    return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
  }
}

template <typename V, size_t MR>
__attribute__((always_inline)) inline void GramTile(const double* packed, size_t i0,
                                                    size_t j0, size_t len_padded,
                                                    double sums[MR][4]) {
  constexpr size_t kL = sizeof(V) / sizeof(double);
  const double* a[MR];
  for (size_t r = 0; r < MR; ++r) a[r] = packed + (i0 + r) * kGramBlock;
  const double* b0 = packed + j0 * kGramBlock;
  const double* b1 = b0 + kGramBlock;
  const double* b2 = b1 + kGramBlock;
  const double* b3 = b2 + kGramBlock;
  V c[MR][4];
  for (size_t r = 0; r < MR; ++r) {
    for (size_t q = 0; q < 4; ++q) c[r][q] = V{};
  }
  for (size_t k = 0; k < len_padded; k += kL) {
    const V vb0 = LoadVec<V>(b0 + k), vb1 = LoadVec<V>(b1 + k);
    const V vb2 = LoadVec<V>(b2 + k), vb3 = LoadVec<V>(b3 + k);
    for (size_t r = 0; r < MR; ++r) {
      const V va = LoadVec<V>(a[r] + k);
      c[r][0] += va * vb0;
      c[r][1] += va * vb1;
      c[r][2] += va * vb2;
      c[r][3] += va * vb3;
    }
  }
  for (size_t r = 0; r < MR; ++r) {
    for (size_t q = 0; q < 4; ++q) sums[r][q] = SumLanes(c[r][q]);
  }
}

template <typename V, size_t MR>
__attribute__((always_inline)) inline void GramChunkImpl(VectorList x, size_t begin,
                                                         size_t end, double* packed,
                                                         double* partial, uint32_t* nf) {
  constexpr size_t kL = sizeof(V) / sizeof(double);
  const size_t n = x.size();
  const size_t tiles_per_block = (n / MR + 1) * (n / 4 + 1) / 2 + 1;
  const size_t lines_per_tile = (n * 16) / tiles_per_block + 1;
  for (size_t b = begin; b < end; b += kGramBlock) {
    const size_t len = std::min(kGramBlock, end - b);
    const size_t len_padded = (len + kL - 1) / kL * kL;
    for (size_t i = 0; i < n; ++i) {
      const float* src = x[i].data() + b;
      double* dst = packed + i * kGramBlock;
      if (nf != nullptr) {
        uint32_t acc = 0;
        for (size_t k = 0; k < len; ++k) {
          dst[k] = static_cast<double>(src[k]);
          acc |= NonFiniteBit(src[k]);
        }
        nf[i] |= acc;
      } else {
        for (size_t k = 0; k < len; ++k) dst[k] = static_cast<double>(src[k]);
      }
      for (size_t k = len; k < len_padded; ++k) dst[k] = 0;
    }
    // Rows n .. padded count stay zero (set at allocation).
    const size_t next = b + kGramBlock;
    BlockPrefetcher prefetch{.x = x,
                             .begin = next,
                             .len = next < end ? std::min(kGramBlock, end - next) : 0,
                             .input = next < end ? 0 : n,
                             .offset = 0};
    double sums[MR][4];
    for (size_t g0 = 0; g0 < n; g0 += kGramGroup) {
      const size_t g1 = std::min(n, g0 + kGramGroup);
      for (size_t i0 = g0 / MR * MR; i0 < n; i0 += MR) {
        for (size_t j0 = g0; j0 < g1 && j0 <= i0 + MR - 1; j0 += 4) {
          prefetch.Step(lines_per_tile);
          GramTile<V, MR>(packed, i0, j0, len_padded, sums);
          for (size_t di = 0; di < MR; ++di) {
            const size_t i = i0 + di;
            if (i >= n) break;
            for (size_t dj = 0; dj < 4; ++dj) {
              const size_t j = j0 + dj;
              if (j > i) break;
              partial[i * n + j] += sums[di][dj];
            }
          }
        }
      }
    }
  }
}

// 256-bit lanes and 2 x 4 tiles (16 vector registers), for x86-64-v3 and
// the baseline.
MURMUR_VECTOR_CLONES
void GramChunk256(VectorList x, size_t begin, size_t end, double* packed,
                  double* partial, uint32_t* nf) {
  GramChunkImpl<V4, 2>(x, begin, end, packed, partial, nf);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MURMUR_NO_CLONES)
// 512-bit lanes and 4 x 4 tiles (32 vector registers) where AVX-512 exists.
__attribute__((target("arch=x86-64-v4"))) void GramChunk512(
    VectorList x, size_t begin, size_t end, double* packed, double* partial,
    uint32_t* nf) {
  GramChunkImpl<V8, 4>(x, begin, end, packed, partial, nf);
}

bool HasAvx512() {
  static const bool has = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512bw");
  return has;
}
#endif

void GramChunk(VectorList x, size_t begin, size_t end, double* packed, double* partial,
               uint32_t* nf) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MURMUR_NO_CLONES)
  if (HasAvx512()) return GramChunk512(x, begin, end, packed, partial, nf);
#endif
  GramChunk256(x, begin, end, packed, partial, nf);
}

void OrFlags(const std::vector<uint32_t>& per_chunk, size_t n, uint8_t* flags) {
  for (size_t i = 0; i < n; ++i) flags[i] = 0;
  for (size_t c = 0; c * n < per_chunk.size(); ++c) {
    for (size_t i = 0; i < n; ++i) {
      if (NonFiniteSeen(per_chunk[c * n + i])) flags[i] = 1;
    }
  }
}

size_t Dim(VectorList vectors) { return vectors.empty() ? 0 : vectors[0].size(); }

// Per-input sums over chunks, combined in chunk order.
std::vector<double> PerInputChunkSums(
    VectorList vectors, ThreadPool* pool,
    const std::function<double(size_t, size_t, size_t)>& fn) {
  const size_t n = vectors.size();
  const size_t dim = Dim(vectors);
  const size_t chunks = NumChunks(dim);
  std::vector<double> partial(chunks * n, 0.0);
  ForEachChunk(dim, pool, [&](size_t c, size_t begin, size_t end) {
    for (size_t i = 0; i < n; ++i) partial[c * n + i] = fn(i, begin, end);
  });
  std::vector<double> total(n, 0.0);
  for (size_t c = 0; c < chunks; ++c) {
    for (size_t i = 0; i < n; ++i) total[i] += partial[c * n + i];
  }
  return total;
}

}  // namespace

namespace robust_internal {

void LinearCombinationScan(VectorList vectors, std::span<const double> coef,
                           double divisor, std::span<float> out,
                           ThreadPool* pool, uint8_t* flags) {
  const size_t n = vectors.size();
  MURMUR_CHECK(n > 0 && coef.size() == n && divisor != 0);
  const size_t dim = out.size();
  std::vector<uint32_t> nf(flags ? NumChunks(dim) * n : 0, 0);
  ForEachChunk(dim, pool, [&](size_t c, size_t begin, size_t end) {
    alignas(64) double acc[kCombineBlock];
    for (size_t b = begin; b < end; b += kCombineBlock) {
      const size_t len = std::min(kCombineBlock, end - b);
      std::fill(acc, acc + len, 0.0);
      for (size_t i = 0; i < n; ++i) {
        if (flags != nullptr) {
          nf[c * n + i] |= CombineBlockScan(vectors[i].data() + b, coef[i], acc, len);
        } else if (coef[i] != 0.0) {
          CombineBlock(vectors[i].data() + b, coef[i], acc, len);
        }
      }
      FinishBlock(acc, divisor, out.data() + b, len);
    }
  });
  if (flags != nullptr) OrFlags(nf, n, flags);
}

std::vector<double> GramMatrixScan(VectorList vectors, ThreadPool* pool,
                                   uint8_t* flags) {
  const size_t n = vectors.size();
  const size_t dim = Dim(vectors);
  const size_t chunks = NumChunks(dim);
  const size_t padded_rows = (n + 3) & ~size_t{3};
  std::vector<double> gram(n * n, 0.0);
  std::vector<uint32_t> nf(flags ? chunks * n : 0, 0);
  auto chunk_fn = [&](size_t c, size_t begin, size_t end, double* partial) {
    robust_internal::AlignedScratch<double> packed(padded_rows * kGramBlock, 0.0);
    GramChunk(vectors, begin, end, packed.data(), partial,
              flags ? nf.data() + c * n : nullptr);
  };
  if (pool == nullptr || chunks <= 1) {
    std::vector<double> partial(n * n);
    ForEachChunk(dim, nullptr, [&](size_t c, size_t begin, size_t end) {
      std::fill(partial.begin(), partial.end(), 0.0);
      chunk_fn(c, begin, end, partial.data());
      for (size_t e = 0; e < n * n; ++e) gram[e] += partial[e];
    });
  } else {
    std::vector<double> partials(chunks * n * n, 0.0);
    ForEachChunk(dim, pool, [&](size_t c, size_t begin, size_t end) {
      chunk_fn(c, begin, end, partials.data() + c * n * n);
    });
    for (size_t c = 0; c < chunks; ++c) {
      for (size_t e = 0; e < n * n; ++e) gram[e] += partials[c * n * n + e];
    }
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) gram[i * n + j] = gram[j * n + i];
  }
  if (flags != nullptr) OrFlags(nf, n, flags);
  return gram;
}

}  // namespace robust_internal

bool HasNonFinite(std::span<const float> v) {
  return NonFiniteSeen(NonFiniteAcc(v.data(), v.size()));
}

size_t FlagNonFinite(VectorList vectors, std::span<uint8_t> flags, ThreadPool* pool) {
  const size_t n = vectors.size();
  MURMUR_CHECK(flags.size() == n);
  const size_t dim = Dim(vectors);
  std::vector<uint32_t> nf(NumChunks(dim) * n, 0);
  ForEachChunk(dim, pool, [&](size_t c, size_t begin, size_t end) {
    for (size_t i = 0; i < n; ++i) {
      nf[c * n + i] = NonFiniteAcc(vectors[i].data() + begin, end - begin);
    }
  });
  OrFlags(nf, n, flags.data());
  return static_cast<size_t>(std::count(flags.begin(), flags.end(), uint8_t{1}));
}

std::vector<double> GramMatrix(VectorList vectors, ThreadPool* pool) {
  return robust_internal::GramMatrixScan(vectors, pool, nullptr);
}

std::vector<double> SquaredDistancesFromGram(std::span<const double> gram, size_t n) {
  MURMUR_CHECK(gram.size() == n * n);
  std::vector<double> d(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < i; ++j) {
      const double v =
          std::max(0.0, gram[i * n + i] + gram[j * n + j] - 2.0 * gram[i * n + j]);
      d[i * n + j] = v;
      d[j * n + i] = v;
    }
  }
  return d;
}

std::vector<double> SquaredDistancesTo(VectorList vectors, std::span<const float> point,
                                       ThreadPool* pool) {
  for (const auto& v : vectors) MURMUR_CHECK(v.size() == point.size());
  return PerInputChunkSums(vectors, pool, [&](size_t i, size_t begin, size_t end) {
    return SquaredDistanceSpan(vectors[i].data() + begin, point.data() + begin,
                               end - begin);
  });
}

std::vector<double> SquaredNorms(VectorList vectors, ThreadPool* pool) {
  return PerInputChunkSums(vectors, pool, [&](size_t i, size_t begin, size_t end) {
    return SquaredDistanceSpan(vectors[i].data() + begin, nullptr, end - begin);
  });
}

void LinearCombination(VectorList vectors, std::span<const double> coef, double divisor,
                       std::span<float> out, ThreadPool* pool) {
  robust_internal::LinearCombinationScan(vectors, coef, divisor, out, pool, nullptr);
}

void MeanOf(VectorList vectors, std::span<float> out, ThreadPool* pool) {
  std::vector<double> ones(vectors.size(), 1.0);
  LinearCombination(vectors, ones, static_cast<double>(vectors.size()), out, pool);
}

std::vector<size_t> SmallestK(std::span<const double> values, size_t k) {
  MURMUR_CHECK(k <= values.size());
  std::vector<size_t> idx(values.size());
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](size_t a, size_t b) {
                      return values[a] < values[b] || (values[a] == values[b] && a < b);
                    });
  idx.resize(k);
  return idx;
}

std::vector<size_t> NearestTo(VectorList vectors, std::span<const float> point, size_t k,
                              ThreadPool* pool) {
  return SmallestK(SquaredDistancesTo(vectors, point, pool), k);
}

}  // namespace murmur
