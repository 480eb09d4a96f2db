// The pieces of a run that every process of it builds the same way from
// its RunConfig: the data, the data partition, the model and one peer's
// Learner. The simulator (RunExperiment) builds every peer; a runtime peer
// (`murmur peer`) builds only its own, and gets the same shard, initial
// model and batch stream as the simulator's peer of that index.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"
#include "murmur/learn/partition.h"
#include "murmur/experiment/run_config.h"

namespace murmur {

// The run's compute threads: `threads`, or one per core when it is 0.
int SetupThreads(const RunConfig& config);

// The run's train and test sets. kNotFound when the dataset is missing
// (the message says which files were expected where); kInvalidArgument
// naming the file and the problem when it is damaged or malformed.
Result<TrainTestSplit> LoadRunData(const RunConfig& config);

// The model for `data`'s input shape.
Result<std::unique_ptr<Model>> MakeRunModel(const RunConfig& config, const Dataset& train);

// The Byzantine peers whose attack poisons their training data (label flip,
// sybil; none for other attacks), sorted. kInvalidArgument for a class the
// data lacks.
Result<std::vector<PeerId>> DataPoisoners(const RunConfig& config, const Dataset& train);

// One peer's learner. A data-poisoning Byzantine peer trains on a poisoned
// copy of its shard, which `poisoned` owns (null for every other peer).
// With data.validation_fraction > 0, `validation` holds a copy of the
// samples held out of the shard (null otherwise).
struct PeerLearner {
  std::unique_ptr<Dataset> poisoned;
  std::unique_ptr<Dataset> validation;
  std::unique_ptr<Learner> learner;
};

// Where a learner's DP-SGD Poisson sampling and noise come from. Left out,
// sub-streams 1 and 2 of the peer's seeded batch stream (the simulator: a
// run replays from its seed); a network peer passes streams nobody else can
// regenerate (net::SecretRng), since every peer knows the run seed.
struct DpSgdStreams {
  Rng sampling;
  Rng noise;
};

// Peer `peer`'s learner over `shard` (its entry of the run's partition);
// `poisoners` is DataPoisoners' answer. A seeded floor(validation_fraction
// x shard) of the samples (at least one when the fraction is > 0 and the
// shard has two) becomes the validation split and is not trained on. With
// train.trainable = "output" only OutputLayerOf(model) trains.
// kInvalidArgument when the shard is empty. `model` and `train` must
// outlive the learner. `dp_sgd_streams` (privacy.dp_sgd only): see
// DpSgdStreams.
Result<PeerLearner> MakePeerLearner(const RunConfig& config, const Model& model,
                                    const Dataset& train, std::vector<int64_t> shard, PeerId peer,
                                    std::span<const PeerId> poisoners,
                                    std::optional<DpSgdStreams> dp_sgd_streams = std::nullopt);

// With model.init_checkpoint set, loads it into every learner (kNotFound,
// kCorrupt or kInvalidArgument for a missing, damaged or mismatched file);
// with model.reinit_output only the body (everything before
// OutputLayerOf(model)) is loaded. Otherwise leaves the learners as
// initialized.
Status LoadInitialModel(const RunConfig& config, const Model& model,
                        std::span<Learner* const> learners);

}  // namespace murmur
