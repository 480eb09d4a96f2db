// The aggregation step of SybilWall (Werthenbach, Pouwelse, 2023, "Towards
// Sybil Resilience in Decentralized Learning"). A peer keeps, for every peer
// it knows of, an accumulated update history (protocol/sybilwall.h keeps
// them and gossips them); each round it scores the histories of the
// neighbours whose models arrived, together with the distant histories it
// holds, with FoolsGold's similarity score (robust/similarity_downweighting.h,
// pardoning and logit on by default), gives its own model weight 1 and each
// neighbour's model its score, and takes the normalised weighted average.
// Sybil identities pushing one goal have (near-)identical histories, so
// each scores ~0 as soon as a second identity's history is among the
// inputs, whether it is a neighbour or only known through gossip: that is
// what the gossip is for. Tolerates any number of Sybils whose histories
// are parallel; not Byzantine peers with independent, dissimilar updates.
// Stateless and thread-safe.
#pragma once

#include <span>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/core/thread_pool.h"
#include "murmur/robust/aggregator.h"
#include "murmur/robust/similarity_downweighting.h"

namespace murmur {

struct SybilWallOptions {
  // Gossip's preference for near records: a record at distance d is drawn
  // with weight lambda * exp(-lambda * (d - 1)) (the reference's 1 / 1.25).
  double lambda = 1.0 / 1.25;
  SimilarityScoreOptions score{.pardoning = true, .logit = true};
};

// own <- (own + sum_k s_k * models[k]) / (1 + sum_k s_k), where s_k is the
// score of histories[k] among all of `histories`: histories[0..K-1] belong
// to the neighbours whose models are models[0..K-1] (K = models.size()),
// the rest are distant records that only take part in the scoring. A
// non-finite history is left out of the scoring and a non-finite model gets
// weight 0. When `weights` is given it receives the normalised weights, own
// first (K + 1 values). Returns kInvalidArgument when there are fewer
// histories than models or a vector's size differs from own.size(); `own`
// is then unchanged.
Status SybilWallAggregate(std::span<float> own, VectorList models, VectorList histories,
                          const SimilarityScoreOptions& score,
                          std::vector<double>* weights = nullptr, ThreadPool* pool = nullptr);

}  // namespace murmur
