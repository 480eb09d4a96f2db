// Similarity-based down-weighting of mutually similar inputs: the kernel of
// FoolsGold (Fung, Yoon, Beschastnikh, 2020, "The Limitations of Federated
// Learning in Sybil Settings") that SybilWall (Werthenbach, Pouwelse, 2023,
// "Towards Sybil Resilience in Decentralized Learning") builds its
// Sybil-resistant aggregation on. Sybils pushing one goal send near-parallel
// updates, honest peers with different data do not, so input i gets weight
//   w_i = clamp(1 - max_{j != i} cos(x_i, x_j), 0, 1),
// rescaled so the largest weight is 1, and the output is the weighted mean.
// When every weight is 0 (all inputs parallel) the plain mean is returned.
// Cosines come from one Gram matrix. Protocol-level parts of both papers
// (FoolsGold's per-client update history and logit squashing, SybilWall's
// probabilistic gossip and history exchange) are not here: callers that
// keep histories can pass them as the inputs. Tolerates any number of
// identical Sybils (they cancel to weight ~0), not independent Byzantine
// noise; it has no f bound (f is used only for the non-finite accounting).
// Stateless; thread-safety as for Aggregator.
#pragma once

#include "murmur/robust/aggregator.h"

namespace murmur {

class SimilarityDownweighting final : public Aggregator {
 public:
  explicit SimilarityDownweighting(int f = 0, ThreadPool* pool = nullptr)
      : Aggregator(f, pool) {}
  std::string name() const override { return "similarity-downweighting"; }
  Status AggregateChecked(const CheckedInput& in, std::span<float> out,
                          FinitenessScan* scan) const override;
};

}  // namespace murmur
