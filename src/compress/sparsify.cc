#include "murmur/compress/sparsify.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>

#include "compress/index_coding.h"
#include "compress/philox.h"
#include "compress/select.h"
#include "compress/simd.h"
#include "compress/wire.h"
#include "murmur/compress/float_cast.h"
#include "murmur/core/rng.h"

namespace murmur {
namespace {

using compress_internal::CheckEncodable;
using compress_internal::FrameReader;
using compress_internal::HeaderSize;
using compress_internal::VarintSize;

inline uint32_t MagnitudeKey(float v) {
  return std::bit_cast<uint32_t>(v) & 0x7fffffffu;
}

// The magnitude histogram uses the top 11 bits of the 31-bit key: exponent
// and 3 mantissa bits. Non-finite values land in buckets >= kNonFiniteBucket.
constexpr int kBucketShift = 20;
constexpr size_t kBuckets = size_t{1} << (31 - kBucketShift);
constexpr uint32_t kNonFiniteBucket = 0x7f800000u >> kBucketShift;

// Four interleaved histograms so that runs of equal buckets do not serialize
// on one counter.
void MagnitudeHistogram(const float* x, size_t n, uint32_t* hist /* kBuckets */) {
  std::vector<std::array<uint32_t, 4>> h(kBuckets, {0, 0, 0, 0});
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++h[MagnitudeKey(x[i]) >> kBucketShift][0];
    ++h[MagnitudeKey(x[i + 1]) >> kBucketShift][1];
    ++h[MagnitudeKey(x[i + 2]) >> kBucketShift][2];
    ++h[MagnitudeKey(x[i + 3]) >> kBucketShift][3];
  }
  for (; i < n; ++i) ++h[MagnitudeKey(x[i]) >> kBucketShift][0];
  for (size_t b = 0; b < kBuckets; ++b) hist[b] = h[b][0] + h[b][1] + h[b][2] + h[b][3];
}

// Appends, in index order, every i with key(x_i) >= lo. Tests 16 values at
// a time with a vectorized reduction; hits are rare (about k of d).
MURMUR_MULTIVERSION
void CollectAtLeast(const float* x, size_t n, uint32_t lo, std::vector<uint32_t>& out) {
  constexpr size_t kStride = 16;
  size_t i = 0;
  for (; i + kStride <= n; i += kStride) {
    uint32_t any = 0;
    for (size_t j = 0; j < kStride; ++j) {
      uint32_t bits;
      std::memcpy(&bits, x + i + j, 4);
      any |= static_cast<uint32_t>((bits & 0x7fffffffu) >= lo);
    }
    if (any == 0) continue;
    for (size_t j = i; j < i + kStride; ++j) {
      if (MagnitudeKey(x[j]) >= lo) out.push_back(static_cast<uint32_t>(j));
    }
  }
  for (; i < n; ++i) {
    if (MagnitudeKey(x[i]) >= lo) out.push_back(static_cast<uint32_t>(i));
  }
}

// The exact top k among `candidates` (increasing indices that include the
// true top k): keys above the k-th largest, then the first ties in index
// order.
std::vector<uint32_t> SelectAmong(std::span<const float> x,
                                  const std::vector<uint32_t>& candidates, size_t k) {
  std::vector<uint32_t> keys(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) keys[i] = MagnitudeKey(x[candidates[i]]);
  std::vector<uint32_t> order = keys;
  std::nth_element(order.begin(), order.begin() + (k - 1), order.end(),
                   std::greater<uint32_t>());
  const uint32_t threshold = order[k - 1];
  size_t greater = 0;
  for (uint32_t key : keys) greater += key > threshold;
  size_t ties = k - greater;
  std::vector<uint32_t> kept;
  kept.reserve(k);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (keys[i] > threshold) {
      kept.push_back(candidates[i]);
    } else if (keys[i] == threshold && ties > 0) {
      kept.push_back(candidates[i]);
      --ties;
    }
  }
  MURMUR_CHECK(kept.size() == k);
  return kept;
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

const char* ScalingName(RandKScaling s) {
  return s == RandKScaling::kUnbiased ? "unbiased" : "none";
}

}  // namespace

SparsityLevel SparsityLevel::Fraction(double fraction) {
  MURMUR_CHECK(fraction > 0 && fraction <= 1);
  return SparsityLevel(fraction, 0);
}

SparsityLevel SparsityLevel::Count(uint64_t count) {
  MURMUR_CHECK(count >= 1);
  return SparsityLevel(0, count);
}

size_t SparsityLevel::KeepFor(size_t dim) const {
  if (dim == 0) return 0;
  if (count_ != 0) return static_cast<size_t>(std::min<uint64_t>(count_, dim));
  const double k = std::round(fraction_ * static_cast<double>(dim));
  if (k < 1) return 1;
  if (k > static_cast<double>(dim)) return dim;
  return static_cast<size_t>(k);
}

std::string SparsityLevel::ToString() const {
  if (count_ != 0) return "k=" + std::to_string(count_);
  return FormatDouble(fraction_);
}

namespace compress_internal {

Status SelectTopK(std::span<const float> x, size_t k, const char* codec,
                  std::vector<uint32_t>& kept) {
  const size_t d = x.size();
  MURMUR_CHECK(k <= d);
  kept.clear();
  if (x.size() > kMaxCodecDimension) return CheckEncodable(x, codec);
  if (k == 0 || k == d) {
    MURMUR_RETURN_IF_ERROR(CheckEncodable(x, codec));
    kept.resize(k);
    for (size_t i = 0; i < k; ++i) kept[i] = static_cast<uint32_t>(i);
    return Status::Ok();
  }
  // Every non-finite value has a key above every finite one, so the passes
  // below collect it as a candidate (or, with a non-finite threshold, the
  // value the threshold came from): checking the candidates finds it
  // without a separate pass over x.
  const auto finite_candidates = [&](const std::vector<uint32_t>& candidates) {
    for (uint32_t i : candidates) {
      if (MagnitudeKey(x[i]) >= 0x7f800000u) return false;
    }
    return true;
  };
  // 1. Guess a threshold a little below the k-th largest magnitude from a
  // strided sample, and keep everything at or above it (one vectorized
  // pass). If the guess was too high (fewer than k kept), fall back to an
  // exact histogram select; either way the final choice is exact.
  constexpr size_t kSampleSize = 65536;
  const size_t stride = std::max<size_t>(1, d / kSampleSize);
  std::vector<uint32_t> sample;
  sample.reserve(d / stride + 1);
  for (size_t i = 0; i < d; i += stride) sample.push_back(MagnitudeKey(x[i]));
  const double rank = static_cast<double>(k) * static_cast<double>(sample.size()) /
                      static_cast<double>(d);
  const size_t low_rank = static_cast<size_t>(std::ceil(rank + 4 * std::sqrt(rank) + 8));
  std::vector<uint32_t> candidates;
  if (low_rank < sample.size()) {
    std::nth_element(sample.begin(), sample.begin() + (low_rank - 1), sample.end(),
                     std::greater<uint32_t>());
    candidates.reserve(2 * k);
    CollectAtLeast(x.data(), d, sample[low_rank - 1], candidates);
    if (!finite_candidates(candidates)) return CheckEncodable(x, codec);
    if (candidates.size() >= k) {
      kept = SelectAmong(x, candidates, k);
      return Status::Ok();
    }
    candidates.clear();
  }
  // 2. Exact fallback: the magnitude bucket holding the k-th largest, then
  // everything in it or above.
  std::vector<uint32_t> hist(kBuckets);
  MagnitudeHistogram(x.data(), d, hist.data());
  for (size_t b = kNonFiniteBucket; b < kBuckets; ++b) {
    if (hist[b] != 0) return CheckEncodable(x, codec);
  }
  size_t above = 0;  // values in buckets above `bucket`
  size_t bucket = kBuckets - 1;
  while (above + hist[bucket] < k) {
    above += hist[bucket];
    --bucket;
  }
  CollectAtLeast(x.data(), d, static_cast<uint32_t>(bucket) << kBucketShift, candidates);
  kept = SelectAmong(x, candidates, k);
  return Status::Ok();
}

}  // namespace compress_internal

std::vector<uint32_t> TopKIndices(std::span<const float> x, size_t k) {
  std::vector<uint32_t> kept;
  const Status s = compress_internal::SelectTopK(x, k, "topk", kept);
  MURMUR_CHECK(s.ok());
  return kept;
}

std::vector<uint32_t> RandKIndices(size_t dim, size_t k, const CodecContext& ctx) {
  MURMUR_CHECK(k <= dim && dim <= kMaxCodecDimension);
  std::vector<uint32_t> kept;
  if (k == 0) return kept;
  kept.reserve(k);
  if (k == dim) {
    for (size_t i = 0; i < dim; ++i) kept.push_back(static_cast<uint32_t>(i));
    return kept;
  }
  // Floyd's algorithm: for j = d-k .. d-1 draw t in [0, j]; take t unless
  // taken, else take j. Every k-subset is equally likely; a bitmap marks
  // membership and yields the indices in order.
  Rng rng = Rng::ForStep(ctx.seed, ctx.sender, compress_internal::kRandKPurpose, ctx.step);
  std::vector<uint64_t> taken((dim + 63) / 64, 0);
  for (size_t j = dim - k; j < dim; ++j) {
    const uint64_t t = rng.UniformInt(j + 1);
    uint64_t& word = taken[t / 64];
    const uint64_t bit = uint64_t{1} << (t % 64);
    if ((word & bit) == 0) {
      word |= bit;
    } else {
      taken[j / 64] |= uint64_t{1} << (j % 64);
    }
  }
  for (size_t w = 0; w < taken.size(); ++w) {
    uint64_t bits = taken[w];
    while (bits != 0) {
      kept.push_back(static_cast<uint32_t>(64 * w + std::countr_zero(bits)));
      bits &= bits - 1;
    }
  }
  MURMUR_CHECK(kept.size() == k);
  return kept;
}

// ----------------------------------------------------------------- top-k

TopKCodec::TopKCodec(SparsityLevel level, std::unique_ptr<Codec> values)
    : level_(level),
      values_(values != nullptr ? std::move(values) : std::make_unique<Fp32Codec>()) {}

std::string TopKCodec::name() const {
  std::string n = "topk:";
  n += level_.ToString();
  if (values_->id() != CodecId::kFp32) {
    n += "|";
    n += values_->name();
  }
  return n;
}

size_t TopKCodec::MaxEncodedSize(size_t dim) const {
  const size_t k = level_.KeepFor(dim);
  return HeaderSize(dim) + VarintSize(k) + compress_internal::MaxIndexBytes(dim, k) +
         values_->MaxEncodedSize(k);
}

Status TopKCodec::Encode(std::span<const float> x, const CodecContext& ctx,
                         ByteWriter& out) const {
  const size_t d = x.size();
  const size_t k = level_.KeepFor(d);
  std::vector<uint32_t> indices;
  MURMUR_RETURN_IF_ERROR(compress_internal::SelectTopK(x, k, "topk", indices));
  std::vector<float> values(k);
  for (size_t i = 0; i < k; ++i) values[i] = x[indices[i]];
  // Encode the values first: the only step that could fail, before `out`
  // is touched.
  ByteWriter values_frame(values_->MaxEncodedSize(k));
  MURMUR_RETURN_IF_ERROR(values_->Encode(values, ctx, values_frame));
  compress_internal::WriteHeader(out, id(), d);
  compress_internal::WriteVarint(out, k);
  compress_internal::WriteIndices(indices, d, out);
  out.WriteBytes(values_frame.bytes());
  return Status::Ok();
}

namespace {

// Shared by both decoders of top-k: header, k, indices, values.
Status DecodeTopK(const SparsityLevel& level, const Codec& values_codec,
                  std::span<const uint8_t> frame, const CodecContext& ctx,
                  size_t dim, SparseUpdate& out) {
  FrameReader in(frame, "topk");
  MURMUR_RETURN_IF_ERROR(in.Header(CodecId::kTopK, dim));
  const size_t expected_k = level.KeepFor(dim);
  MURMUR_ASSIGN_OR_RETURN(uint64_t k, in.Varint("k", dim));
  if (k != expected_k) {
    return Status::Corrupt("topk frame: k ", k, " where ", expected_k,
                           " was expected for dimension ", dim);
  }
  MURMUR_RETURN_IF_ERROR(compress_internal::ReadIndices(in, dim, k, out.indices));
  out.values.resize(k);
  return values_codec.Decode(in.Rest(), ctx, out.values);
}

}  // namespace

Status TopKCodec::DecodeSparse(std::span<const uint8_t> frame,
                               const CodecContext& ctx, size_t dim,
                               SparseUpdate& out) const {
  if (dim > kMaxCodecDimension) {
    return Status::InvalidArgument("topk decode: dimension ", dim, " exceeds the frame limit");
  }
  return DecodeTopK(level_, *values_, frame, ctx, dim, out);
}

Status TopKCodec::Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                         std::span<float> out) const {
  return DecodeByScatter(frame, ctx, out);
}

// ----------------------------------------------------------------- rand-k

RandKCodec::RandKCodec(SparsityLevel level, RandKScaling scaling,
                       std::unique_ptr<Codec> values)
    : level_(level),
      scaling_(scaling),
      values_(values != nullptr ? std::move(values) : std::make_unique<Fp32Codec>()) {}

std::string RandKCodec::name() const {
  std::string n = "randk:";
  n += level_.ToString();
  if (scaling_ != RandKScaling::kUnbiased) n += std::string(",scaling=") + ScalingName(scaling_);
  if (values_->id() != CodecId::kFp32) {
    n += "|";
    n += values_->name();
  }
  return n;
}

size_t RandKCodec::MaxEncodedSize(size_t dim) const {
  const size_t k = level_.KeepFor(dim);
  return HeaderSize(dim) + VarintSize(k) + 1 + values_->MaxEncodedSize(k);
}

Status RandKCodec::Encode(std::span<const float> x, const CodecContext& ctx,
                          ByteWriter& out) const {
  MURMUR_RETURN_IF_ERROR(compress_internal::CheckEncodable(x, "randk"));
  const size_t d = x.size();
  const size_t k = level_.KeepFor(d);
  const std::vector<uint32_t> indices = RandKIndices(d, k, ctx);
  std::vector<float> values(k);
  for (size_t i = 0; i < k; ++i) values[i] = x[indices[i]];
  if (scaling_ == RandKScaling::kUnbiased && k > 0) {
    const float factor = static_cast<float>(static_cast<double>(d) / static_cast<double>(k));
    for (size_t i = 0; i < k; ++i) {
      if (!std::isfinite(values[i] * factor)) {
        return Status::InvalidArgument("randk encode: value ", values[i], " at index ",
                                       indices[i], " overflows when scaled by d/k = ", factor);
      }
    }
  }
  ByteWriter values_frame(values_->MaxEncodedSize(k));
  MURMUR_RETURN_IF_ERROR(values_->Encode(values, ctx, values_frame));
  compress_internal::WriteHeader(out, id(), d);
  compress_internal::WriteVarint(out, k);
  out.WriteU8(static_cast<uint8_t>(scaling_));
  out.WriteBytes(values_frame.bytes());
  return Status::Ok();
}

Status RandKCodec::DecodeSparse(std::span<const uint8_t> frame,
                                const CodecContext& ctx, size_t dim,
                                SparseUpdate& out) const {
  if (dim > kMaxCodecDimension) {
    return Status::InvalidArgument("randk decode: dimension ", dim, " exceeds the frame limit");
  }
  FrameReader in(frame, "randk");
  MURMUR_RETURN_IF_ERROR(in.Header(id(), dim));
  const size_t expected_k = level_.KeepFor(dim);
  MURMUR_ASSIGN_OR_RETURN(uint64_t k, in.Varint("k", dim));
  if (k != expected_k) {
    return Status::Corrupt("randk frame: k ", k, " where ", expected_k,
                           " was expected for dimension ", dim);
  }
  MURMUR_ASSIGN_OR_RETURN(uint8_t scaling, in.U8("scaling"));
  if (scaling != static_cast<uint8_t>(scaling_)) {
    return Status::Corrupt("randk frame: scaling ", +scaling, " where ",
                           +static_cast<uint8_t>(scaling_), " (",
                           ScalingName(scaling_), ") was expected");
  }
  out.values.resize(k);
  MURMUR_RETURN_IF_ERROR(values_->Decode(in.Rest(), ctx, out.values));
  out.indices = RandKIndices(dim, k, ctx);
  if (scaling_ == RandKScaling::kUnbiased && k > 0) {
    const float factor = static_cast<float>(static_cast<double>(dim) / static_cast<double>(k));
    for (float& v : out.values) v *= factor;
    // d / k times a finite float can overflow.
    MURMUR_RETURN_IF_ERROR(compress_internal::CheckDecodedFinite(out.values, "randk"));
  }
  return Status::Ok();
}

Status RandKCodec::Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                          std::span<float> out) const {
  return DecodeByScatter(frame, ctx, out);
}

}  // namespace murmur
