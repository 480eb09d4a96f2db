// The pieces of a run that every process of it builds the same way from
// its RunConfig: the data, the data partition, the model and one peer's
// Learner. The simulator (RunExperiment) builds every peer; a runtime peer
// (`murmur peer`) builds only its own, and gets the same shard, initial
// model and batch stream as the simulator's peer of that index.
#pragma once

#include <memory>

#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"
#include "murmur/learn/partition.h"
#include "murmur/sim/run_config.h"

namespace murmur {

// The run's train and test sets. kNotFound when the dataset is missing.
Result<TrainTestSplit> LoadRunData(const RunConfig& config);

// The model for `data`'s input shape.
Result<std::unique_ptr<Model>> MakeRunModel(const RunConfig& config, const Dataset& train);

// Peer `peer`'s learner over `shard` (its entry of the run's partition).
// kInvalidArgument when the shard is empty. `model` and `train` must
// outlive the learner.
Result<std::unique_ptr<Learner>> MakePeerLearner(const RunConfig& config, const Model& model,
                                                 const Dataset& train,
                                                 std::vector<int64_t> shard, PeerId peer);

}  // namespace murmur
