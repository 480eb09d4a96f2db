#include "murmur/compress/fedzip.h"

#include <algorithm>
#include <cmath>

#include "compress/huffman.h"
#include "compress/index_coding.h"
#include "compress/select.h"
#include "compress/wire.h"

namespace murmur {
namespace {

using compress_internal::FrameReader;
using compress_internal::HeaderSize;
using compress_internal::VarintSize;

constexpr int kLloydIterations = 50;

}  // namespace

void KMeans1D(std::span<const float> values, int max_clusters,
              std::vector<float>& centroids, std::vector<uint8_t>& ids) {
  MURMUR_CHECK(max_clusters >= 1 && max_clusters <= 255);
  centroids.clear();
  ids.assign(values.size(), 0);
  const size_t k = values.size();
  if (k == 0) return;
  std::vector<float> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> prefix(k + 1, 0.0);
  for (size_t i = 0; i < k; ++i) prefix[i + 1] = prefix[i] + sorted[i];

  // Quantile initialization, duplicates removed.
  const size_t c0 = static_cast<size_t>(max_clusters);
  std::vector<double> c;
  for (size_t j = 0; j < c0; ++j) {
    const size_t at = std::min(k - 1, (2 * j + 1) * k / (2 * c0));
    c.push_back(sorted[at]);
  }
  c.erase(std::unique(c.begin(), c.end()), c.end());

  // Lloyd: in one dimension the clusters of sorted data are contiguous
  // ranges split at the midpoints between neighbouring centroids, and a
  // centroid update is a range mean from the prefix sums.
  std::vector<size_t> starts;
  for (int iter = 0; iter < kLloydIterations; ++iter) {
    std::vector<size_t> new_starts{0};
    for (size_t j = 0; j + 1 < c.size(); ++j) {
      const double mid = 0.5 * (c[j] + c[j + 1]);
      const auto it = std::upper_bound(sorted.begin(), sorted.end(), mid,
                                       [](double m, float v) { return m < v; });
      new_starts.push_back(static_cast<size_t>(it - sorted.begin()));
    }
    new_starts.push_back(k);
    std::vector<double> next;
    std::vector<size_t> kept_starts;
    for (size_t j = 0; j + 1 < new_starts.size(); ++j) {
      const size_t a = new_starts[j], b = new_starts[j + 1];
      if (b <= a) continue;  // empty cluster: drop it
      next.push_back((prefix[b] - prefix[a]) / static_cast<double>(b - a));
      kept_starts.push_back(a);
    }
    const bool converged = kept_starts == starts && next == c;
    c = std::move(next);
    starts = std::move(kept_starts);
    if (converged) break;
  }
  for (double v : c) centroids.push_back(static_cast<float>(v));
  centroids.erase(std::unique(centroids.begin(), centroids.end()), centroids.end());

  for (size_t i = 0; i < k; ++i) {
    const double v = values[i];
    size_t best = 0;
    double best_dist = std::abs(v - centroids[0]);
    for (size_t j = 1; j < centroids.size(); ++j) {
      const double dist = std::abs(v - centroids[j]);
      if (dist < best_dist) {
        best = j;
        best_dist = dist;
      }
    }
    ids[i] = static_cast<uint8_t>(best);
  }
}

FedZipCodec::FedZipCodec(SparsityLevel level, int clusters)
    : level_(level), clusters_(clusters) {
  MURMUR_CHECK(clusters >= kMinClusters && clusters <= kMaxClusters);
}

std::string FedZipCodec::name() const {
  std::string n = "fedzip:";
  n += level_.ToString();
  n += ",clusters=";
  n += std::to_string(clusters_);
  return n;
}

size_t FedZipCodec::MaxEncodedSize(size_t dim) const {
  const size_t k = level_.KeepFor(dim);
  const size_t n = static_cast<size_t>(clusters_);
  return HeaderSize(dim) + VarintSize(k) + compress_internal::MaxIndexBytes(dim, k) + 1 +
         4 * n + (n + 1) / 2 + (k * compress_internal::kMaxHuffmanBits + 7) / 8;
}

Status FedZipCodec::Encode(std::span<const float> x, const CodecContext&,
                           ByteWriter& out) const {
  const size_t d = x.size();
  const size_t k = level_.KeepFor(d);
  std::vector<uint32_t> indices;
  MURMUR_RETURN_IF_ERROR(compress_internal::SelectTopK(x, k, "fedzip", indices));
  std::vector<float> values(k);
  for (size_t i = 0; i < k; ++i) values[i] = x[indices[i]];
  std::vector<float> centroids;
  std::vector<uint8_t> ids;
  KMeans1D(values, clusters_, centroids, ids);
  std::vector<uint64_t> freqs(centroids.size(), 0);
  for (uint8_t id : ids) freqs[id]++;
  const std::vector<uint8_t> lengths =
      compress_internal::HuffmanCodeLengths(freqs, compress_internal::kMaxHuffmanBits);

  compress_internal::WriteHeader(out, id(), d);
  compress_internal::WriteVarint(out, k);
  compress_internal::WriteIndices(indices, d, out);
  out.WriteU8(static_cast<uint8_t>(centroids.size()));
  for (float c : centroids) out.WriteF32(c);
  compress_internal::WriteHuffmanLengths(lengths, out);
  compress_internal::WriteHuffmanBits(lengths, ids, out);
  return Status::Ok();
}

Status FedZipCodec::DecodeSparse(std::span<const uint8_t> frame, const CodecContext&,
                                 size_t dim, SparseUpdate& out) const {
  if (dim > kMaxCodecDimension) {
    return Status::InvalidArgument("fedzip decode: dimension ", dim, " exceeds the frame limit");
  }
  FrameReader in(frame, "fedzip");
  MURMUR_RETURN_IF_ERROR(in.Header(id(), dim));
  const size_t expected_k = level_.KeepFor(dim);
  MURMUR_ASSIGN_OR_RETURN(uint64_t k, in.Varint("k", dim));
  if (k != expected_k) {
    return Status::Corrupt("fedzip frame: k ", k, " where ", expected_k,
                           " was expected for dimension ", dim);
  }
  MURMUR_RETURN_IF_ERROR(compress_internal::ReadIndices(in, dim, k, out.indices));
  MURMUR_ASSIGN_OR_RETURN(uint8_t n, in.U8("centroid count"));
  const size_t max_n = std::min<size_t>(static_cast<size_t>(clusters_), k);
  if (n > max_n || (k > 0 && n == 0)) {
    return Status::Corrupt("fedzip frame: ", +n, " centroids where 1..", max_n,
                           " are allowed for k ", k);
  }
  std::vector<float> centroids(n);
  for (size_t j = 0; j < n; ++j) {
    MURMUR_ASSIGN_OR_RETURN(centroids[j], in.F32("centroid"));
    if (!std::isfinite(centroids[j])) {
      return Status::Corrupt("fedzip frame: centroid ", j, " is ", centroids[j]);
    }
  }
  out.values.resize(k);
  if (k == 0) return in.ExpectEnd();
  std::vector<uint8_t> lengths;
  MURMUR_RETURN_IF_ERROR(compress_internal::ReadHuffmanLengths(in, n, lengths));
  auto decoder = compress_internal::HuffmanDecoder::Create(lengths);
  if (!decoder.ok()) {
    return Status::Corrupt("fedzip frame: ", decoder.status().message());
  }
  if (k > 8 * in.remaining()) {
    return Status::Corrupt("fedzip frame: ", k, " cluster ids cannot fit in ",
                           in.remaining(), " bytes");
  }
  std::vector<uint8_t> ids(k);
  Status bits = decoder->Decode(in.Rest(), ids);
  if (!bits.ok()) return Status::Corrupt("fedzip frame: ", bits.message());
  for (size_t i = 0; i < k; ++i) out.values[i] = centroids[ids[i]];
  return Status::Ok();
}

Status FedZipCodec::Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                           std::span<float> out) const {
  return DecodeByScatter(frame, ctx, out);
}

}  // namespace murmur
