// The data of one network peer (`murmur peer`): only the training rows of
// the shards it trains on, and the test set only when it evaluates, instead
// of the whole dataset in every process. The partition is the simulator's
// (PartitionDataset over the whole training set's labels, same seed), so a
// peer trains on exactly the samples, in the same order, as the simulated
// peer of its index.
#pragma once

#include <cstdint>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/experiment/run_config.h"
#include "murmur/learn/dataset.h"

namespace murmur {

struct PeerData {
  // The rows of `own` and `peer0` of the run's training set, ascending, as a
  // dataset of their own (Fashion-MNIST's as bytes, Dataset::pixels).
  Dataset train;
  // This peer's shard and peer 0's, as positions in `train` (the run's
  // partition entries mapped in order, so still ascending); `peer0` is empty
  // unless asked for.
  std::vector<int64_t> own;
  std::vector<int64_t> peer0;
  // The test set: empty until LoadPeerTestSet, except for formats read as
  // one file, whose test set comes with the training set.
  Dataset test;
  bool test_loaded = false;
};

// Shard `shard`'s data (and peer 0's shard when `with_peer0`). Fashion-MNIST
// reads the training labels, partitions them, then reads only the needed
// image rows; other formats are read whole and cut down to those rows.
// Errors as LoadRunData (kNotFound for a missing dataset, kInvalidArgument
// for a damaged one) and PartitionDataset.
Result<PeerData> LoadPeerData(const RunConfig& config, uint32_t shard, bool with_peer0);

// Fills data.test with the run's test set unless it is there (Fashion-MNIST's
// as bytes). Errors as LoadRunData.
Status LoadPeerTestSet(const RunConfig& config, PeerData& data);

// Frees the test set of a peer that does not evaluate.
void DropPeerTestSet(PeerData& data);

}  // namespace murmur
