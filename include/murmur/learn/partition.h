// Splitting a training set across peers, all seeded:
//  * IID: a uniform random split into near-equal shards.
//  * Dirichlet(alpha) label skew (Hsu, Qi, Brown, 2019, "Measuring the
//    Effects of Non-Identical Data Distribution for Federated Visual
//    Classification"): for each class, proportions over peers drawn from
//    Dir(alpha); small alpha gives peers few classes.
//  * k shards per peer (McMahan et al., 2017, "Communication-Efficient
//    Learning of Deep Networks from Decentralized Data"): sort by label, cut
//    into peers*k shards, give each peer k random shards.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"

namespace murmur {

enum class PartitionKind { kIid, kDirichlet, kShards };

struct PartitionConfig {
  PartitionKind kind = PartitionKind::kIid;
  double alpha = 0.5;           // Dirichlet concentration
  int64_t shards_per_peer = 2;  // k for kShards
  // Dirichlet: resample until every peer has at least this many samples.
  int64_t min_samples_per_peer = 10;
};

// One list of sample indices per peer; every index appears exactly once
// across all lists (kShards may drop the remainder that does not fill a
// shard). Each list is sorted ascending.
using Partition = std::vector<std::vector<int64_t>>;

// Returns kInvalidArgument for peers < 1, more peers than samples, alpha <= 0,
// shards_per_peer < 1 or too many shards, labels outside [0, num_classes),
// or when Dirichlet cannot meet min_samples_per_peer after 1000 draws.
Result<Partition> PartitionDataset(std::span<const int64_t> labels,
                                   int64_t num_classes, int64_t peers,
                                   const PartitionConfig& config,
                                   uint64_t seed);

// Per-peer class histograms: result[peer][class] = count.
std::vector<std::vector<int64_t>> ClassHistograms(
    std::span<const int64_t> labels, int64_t num_classes,
    const Partition& partition);

}  // namespace murmur
