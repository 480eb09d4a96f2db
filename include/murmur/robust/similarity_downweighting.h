// Similarity-based down-weighting of mutually similar inputs: the kernel of
// FoolsGold (Fung, Yoon, Beschastnikh, 2020, "The Limitations of Federated
// Learning in Sybil Settings") that SybilWall (Werthenbach, Pouwelse, 2023,
// "Towards Sybil Resilience in Decentralized Learning") builds its
// Sybil-resistant aggregation on. Sybils pushing one goal send near-parallel
// updates, honest peers with different data do not, so input i gets weight
//   w_i = clamp(1 - max_{j != i} cos(x_i, x_j), 0, 1),
// rescaled so the largest weight is 1, and the output is the weighted mean.
// When every weight is 0 (all inputs parallel) the plain mean is returned.
// Cosines come from one Gram matrix. FoolsGold's two refinements are
// options (SimilarityScoreOptions): pardoning, which scales cos_ij by
// v_i / v_j when v_i < v_j (v = each input's largest cosine, so an honest
// input that merely resembles a Sybil is not punished for it), and the
// logit w <- clamp(ln(w / (1 - w)) + 0.5, 0, 1), which pushes weights to 0
// or 1. FoolsGold's per-client history is the caller's: SybilWall's
// history exchange and probabilistic gossip live in protocol/sybilwall.h
// and its aggregation step in robust/sybilwall.h. Tolerates any number of
// identical Sybils (they cancel to weight ~0), not independent Byzantine
// noise; it has no f bound (f is used only for the non-finite accounting).
// Stateless; thread-safety as for Aggregator.
#pragma once

#include <span>
#include <vector>

#include "murmur/robust/aggregator.h"

namespace murmur {

struct SimilarityScoreOptions {
  bool pardoning = false;  // FoolsGold's pardoning of honest look-alikes
  bool logit = false;      // FoolsGold's logit sharpening
};

// The weights above for the n inputs whose Gram matrix (row-major n x n) is
// `gram`: each in [0, 1], the largest 1 (all 1 when every input is parallel
// to another, or n == 1). A zero vector has cosine 0 with everything.
// REQUIRES: gram.size() == n * n, n >= 1, entries finite.
std::vector<double> SimilarityScores(std::span<const double> gram, size_t n,
                                     const SimilarityScoreOptions& options = {});

class SimilarityDownweighting final : public Aggregator {
 public:
  explicit SimilarityDownweighting(int f = 0, ThreadPool* pool = nullptr)
      : Aggregator(f, pool) {}
  SimilarityDownweighting(int f, const SimilarityScoreOptions& options,
                          ThreadPool* pool = nullptr)
      : Aggregator(f, pool), options_(options) {}
  std::string name() const override { return "similarity-downweighting"; }
  const SimilarityScoreOptions& score_options() const { return options_; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;

 private:
  const SimilarityScoreOptions options_;
};

}  // namespace murmur
