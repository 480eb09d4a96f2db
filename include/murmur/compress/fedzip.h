// The FEDZIP pipeline (Malekijoo, Fadaeieslam, Malekijou, Homayounfar,
// Alizadeh-Shabdiz, Rawassizadeh, 2021, "FEDZIP: A Compression Framework for
// Communication-Efficient Federated Learning"): top-z sparsification, k-means
// quantization of the kept values, Huffman coding of the cluster ids, and
// compact coding of the kept positions.
//
// Here over the whole flat vector (the paper works layer by layer):
//  1. keep the k = z * d largest magnitudes (TopKIndices; same tie rule);
//  2. cluster the kept values with Lloyd's algorithm in one dimension
//     (Lloyd, 1982, "Least squares quantization in PCM"), initialized at
//     the quantiles of the kept values, so the result is deterministic and
//     needs no random stream; at most `clusters` centroids, empty clusters
//     dropped;
//  3. send the centroids as f32 and each kept value's cluster id with a
//     canonical Huffman code (lengths <= 15 bits);
//  4. positions as in top-k (delta varints or a bitmap, whichever is
//     smaller).
// Decodes each kept coordinate to its centroid. Biased (sparsification and
// centroid rounding): use it inside error feedback.
//
// Frame: header | varint k | index coding | u8 centroids n | n x f32 |
//        n code lengths as nibbles | Huffman bits (MSB first, zero padded).
// The decoder rejects a k other than its own, n = 0 (with k > 0), n above
// its own cluster limit or above k, non-finite centroids, an invalid or
// incomplete code, and streams too short or too long.
// Stateless and thread-safe.
#pragma once

#include "murmur/compress/codec.h"
#include "murmur/compress/sparsify.h"

namespace murmur {

class FedZipCodec final : public Codec {
 public:
  static constexpr int kMinClusters = 2;
  static constexpr int kMaxClusters = 16;

  // REQUIRES: kMinClusters <= clusters <= kMaxClusters.
  FedZipCodec(SparsityLevel level, int clusters);

  CodecId id() const override { return CodecId::kFedZip; }
  std::string name() const override;
  size_t MaxEncodedSize(size_t dim) const override;
  Status Encode(std::span<const float> x, const CodecContext& ctx,
                ByteWriter& out) const override;
  Status Decode(std::span<const uint8_t> frame, const CodecContext& ctx,
                std::span<float> out) const override;
  Status DecodeSparse(std::span<const uint8_t> frame, const CodecContext& ctx,
                      size_t dim, SparseUpdate& out) const override;

 private:
  const SparsityLevel level_;
  const int clusters_;
};

// One-dimensional k-means as FedZipCodec runs it: ascending, distinct
// centroids (at most max_clusters) and each value's nearest centroid (ties
// to the lower one). Exposed for tests. REQUIRES: finite values,
// 1 <= max_clusters <= 255.
void KMeans1D(std::span<const float> values, int max_clusters,
              std::vector<float>& centroids, std::vector<uint8_t>& ids);

}  // namespace murmur
