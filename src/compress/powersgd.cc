#include "murmur/compress/powersgd.h"

#include <algorithm>
#include <cmath>

#include "compress/philox.h"
#include "compress/wire.h"
#include "murmur/compress/float_cast.h"
#include "murmur/core/rng.h"

namespace murmur {
namespace {

using compress_internal::FrameReader;
using compress_internal::HeaderSize;
using compress_internal::VarintSize;

// Modified Gram-Schmidt on the columns of the row-major rows x r matrix p.
// A column that is (numerically) in the span of the previous ones becomes
// zero, so a rank-deficient M yields fewer useful factors, never NaNs.
void Orthonormalize(std::vector<double>& p, size_t rows, size_t r) {
  for (size_t c = 0; c < r; ++c) {
    for (size_t prev = 0; prev < c; ++prev) {
      double dot = 0;
      for (size_t i = 0; i < rows; ++i) dot += p[i * r + c] * p[i * r + prev];
      for (size_t i = 0; i < rows; ++i) p[i * r + c] -= dot * p[i * r + prev];
    }
    double norm2 = 0;
    for (size_t i = 0; i < rows; ++i) norm2 += p[i * r + c] * p[i * r + c];
    const double norm = std::sqrt(norm2);
    const double inv = norm > 1e-30 ? 1.0 / norm : 0.0;
    for (size_t i = 0; i < rows; ++i) p[i * r + c] *= inv;
  }
}

}  // namespace

PowerSgdCodec::PowerSgdCodec(PowerSgdOptions options, std::unique_ptr<Codec> factors)
    : options_(options),
      factors_(factors != nullptr ? std::move(factors) : std::make_unique<Fp32Codec>()) {
  MURMUR_CHECK(options.rank >= 1);
}

std::string PowerSgdCodec::name() const {
  std::string n = "powersgd:";
  n += std::to_string(options_.rank);
  if (options_.rows != 0) {
    n += ",rows=";
    n += std::to_string(options_.rows);
  }
  if (factors_->id() != CodecId::kFp32) {
    n += "|";
    n += factors_->name();
  }
  return n;
}

PowerSgdCodec::Shape PowerSgdCodec::ShapeFor(size_t dim) const {
  Shape s;
  if (dim == 0) return s;
  s.rows = options_.rows != 0
               ? options_.rows
               : static_cast<size_t>(std::ceil(std::sqrt(static_cast<double>(dim))));
  s.rows = std::clamp<size_t>(s.rows, 1, dim);
  s.cols = (dim + s.rows - 1) / s.rows;
  s.rank = std::min<size_t>({options_.rank, s.rows, s.cols});
  return s;
}

size_t PowerSgdCodec::MaxEncodedSize(size_t dim) const {
  const Shape s = ShapeFor(dim);
  return HeaderSize(dim) + VarintSize(s.rows) + VarintSize(s.rank) +
         factors_->MaxEncodedSize((s.rows + s.cols) * s.rank);
}

Status PowerSgdCodec::Encode(std::span<const float> x, const CodecContext& ctx,
                             ByteWriter& out) const {
  MURMUR_RETURN_IF_ERROR(compress_internal::CheckEncodable(x, "powersgd"));
  const size_t d = x.size();
  const Shape s = ShapeFor(d);
  const size_t r = s.rank;
  std::vector<double> q(s.cols * r);
  Rng rng = Rng::ForStep(ctx.seed, ctx.sender, compress_internal::kPowerSgdPurpose, ctx.step);
  for (double& v : q) v = rng.Normal();
  // P = M Q, row by row (M's row i is x[i * cols, (i + 1) * cols)).
  std::vector<double> p(s.rows * r, 0.0);
  for (size_t i = 0; i < s.rows; ++i) {
    const size_t begin = i * s.cols;
    const size_t end = std::min(d, begin + s.cols);
    double* pi = p.data() + i * r;
    for (size_t idx = begin; idx < end; ++idx) {
      const double m = x[idx];
      const double* qj = q.data() + (idx - begin) * r;
      for (size_t l = 0; l < r; ++l) pi[l] += m * qj[l];
    }
  }
  Orthonormalize(p, s.rows, r);
  // Q = M^T P.
  std::fill(q.begin(), q.end(), 0.0);
  for (size_t i = 0; i < s.rows; ++i) {
    const size_t begin = i * s.cols;
    const size_t end = std::min(d, begin + s.cols);
    const double* pi = p.data() + i * r;
    for (size_t idx = begin; idx < end; ++idx) {
      const double m = x[idx];
      double* qj = q.data() + (idx - begin) * r;
      for (size_t l = 0; l < r; ++l) qj[l] += m * pi[l];
    }
  }
  std::vector<float> factors(p.size() + q.size());
  for (size_t i = 0; i < p.size(); ++i) factors[i] = static_cast<float>(p[i]);
  for (size_t i = 0; i < q.size(); ++i) factors[p.size() + i] = static_cast<float>(q[i]);
  ByteWriter factors_frame(factors_->MaxEncodedSize(factors.size()));
  MURMUR_RETURN_IF_ERROR(factors_->Encode(factors, ctx, factors_frame));
  compress_internal::WriteHeader(out, id(), d);
  compress_internal::WriteVarint(out, s.rows);
  compress_internal::WriteVarint(out, r);
  out.WriteBytes(factors_frame.bytes());
  return Status::Ok();
}

Status PowerSgdCodec::Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                             std::span<float> out) const {
  FrameReader in(frame, "powersgd");
  const size_t d = out.size();
  MURMUR_RETURN_IF_ERROR(in.Header(id(), d));
  const Shape s = ShapeFor(d);
  MURMUR_ASSIGN_OR_RETURN(uint64_t rows, in.Varint("rows", kMaxCodecDimension));
  MURMUR_ASSIGN_OR_RETURN(uint64_t rank, in.Varint("rank", kMaxCodecDimension));
  if (rows != s.rows || rank != s.rank) {
    return Status::Corrupt("powersgd frame: shape ", rows, " rows, rank ", rank,
                           " where ", s.rows, " rows, rank ", s.rank,
                           " were expected for dimension ", d);
  }
  const size_t r = s.rank;
  std::vector<float> factors((s.rows + s.cols) * r);
  MURMUR_RETURN_IF_ERROR(factors_->Decode(in.Rest(), ctx, factors));
  const float* p = factors.data();
  const float* q = factors.data() + s.rows * r;
  for (size_t i = 0; i < s.rows; ++i) {
    const size_t begin = i * s.cols;
    const size_t end = std::min(d, begin + s.cols);
    const float* pi = p + i * r;
    for (size_t idx = begin; idx < end; ++idx) {
      const float* qj = q + (idx - begin) * r;
      float v = 0;
      for (size_t l = 0; l < r; ++l) v += pi[l] * qj[l];
      out[idx] = v;
    }
  }
  return compress_internal::CheckDecodedFinite(out, "powersgd");
}

}  // namespace murmur
