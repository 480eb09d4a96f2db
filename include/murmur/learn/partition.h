// Splitting a training set across peers, all seeded:
//  * IID: a uniform random split into near-equal shards.
//  * Dirichlet(alpha) label skew (Hsu, Qi, Brown, 2019, "Measuring the
//    Effects of Non-Identical Data Distribution for Federated Visual
//    Classification"): for each class, proportions over peers drawn from
//    Dir(alpha); small alpha gives peers few classes.
//  * k shards per peer (McMahan et al., 2017, "Communication-Efficient
//    Learning of Deep Networks from Decentralized Data"): sort by label, cut
//    into peers*k shards, give each peer k random shards.
//  * natural: the dataset's own owners (LEAF's users, e.g. FEMNIST's
//    writers; Caldas et al., 2018, "LEAF: A Benchmark for Federated
//    Settings"): each writer goes whole to one peer, one or more writers per
//    peer, in a seeded order to the peer holding the fewest samples so far.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/learn/dataset.h"

namespace murmur {

enum class PartitionKind { kIid, kDirichlet, kShards, kNatural };

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

// Returns kInvalidArgument for kNatural (it needs the writers: use the
// overload on a Dataset), peers < 1, more peers than samples, alpha <= 0,
// shards_per_peer < 1 or too many shards, labels outside [0, num_classes),
// or when Dirichlet cannot meet min_samples_per_peer after 1000 draws.
Result<Partition> PartitionDataset(std::span<const int64_t> labels,
                                   int64_t num_classes, int64_t peers,
                                   const PartitionConfig& config,
                                   uint64_t seed);

// Splits `train` by config.kind; for kNatural by train.writers (see
// NaturalPartition), otherwise by its labels as above. kInvalidArgument for
// kNatural on a dataset without writers (the message names it), and the
// errors of the functions above.
Result<Partition> PartitionDataset(const Dataset& train, int64_t peers,
                                   const PartitionConfig& config, uint64_t seed);

// The natural partition: writers[i] in [0, num_writers) owns sample i. The
// writers that own samples are shuffled by `seed` and each in turn goes to
// the peer with the fewest samples so far (the lowest-numbered on a tie),
// so a peer's load exceeds another's by at most the largest writer's count.
// Never splits a writer; every sample is used; each list is sorted.
// kInvalidArgument when fewer writers own samples than there are peers, or
// an id lies outside [0, num_writers).
Result<Partition> NaturalPartition(std::span<const int64_t> writers, int64_t num_writers,
                                   int64_t peers, uint64_t seed);

// Per-peer class histograms: result[peer][class] = count.
std::vector<std::vector<int64_t>> ClassHistograms(
    std::span<const int64_t> labels, int64_t num_classes,
    const Partition& partition);

}  // namespace murmur
