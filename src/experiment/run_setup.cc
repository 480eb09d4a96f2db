#include "murmur/experiment/run_setup.h"

#include <algorithm>
#include <thread>

#include "murmur/learn/checkpoint.h"
#include "murmur/learn/cifar10_dataset.h"
#include "murmur/learn/leaf_dataset.h"
#include "murmur/learn/npz_dataset.h"
#include "murmur/learn/text_dataset.h"
#include "murmur/privacy/accountant.h"
#include "murmur/protocol/byzantine.h"

namespace murmur {

int SetupThreads(const RunConfig& config) {
  return static_cast<int>(config.threads > 0
                              ? config.threads
                              : std::max<int64_t>(1, std::thread::hardware_concurrency()));
}

namespace {

Result<TrainTestSplit> LoadDataset(const RunConfig& config) {
  switch (config.data.dataset) {
    case DatasetKind::kSynthetic:
      return MakeSyntheticDataset(SyntheticOptions{.train_size = config.data.synthetic_train,
                                                   .test_size = config.data.synthetic_test,
                                                   .noise = config.data.synthetic_noise,
                                                   .seed = config.seed,
                                                   .threads = SetupThreads(config)});
    case DatasetKind::kFortunes:
      return LoadFortunes(config.data.path, config.data.text);
    case DatasetKind::kNpz:
      return LoadNpz(config.data.path);
    case DatasetKind::kLeaf:
      return LoadLeaf(config.data.path);
    case DatasetKind::kCifar10:
      return LoadCifar10(config.data.path);
    case DatasetKind::kFashionMnist:
      break;
  }
  return LoadFashionMnist(config.data.path);
}

// DP-SGD for `learner` (Learner::EnableDpSgd) with privacy.target_epsilon
// solved at the learner's own sampling rate, so every peer meets it.
Status EnableDpSgd(const RunConfig& config, PeerId peer, Learner& learner,
                   std::optional<DpSgdStreams> streams) {
  const DpSgdConfig& c = config.train.dp_sgd;
  DpSgdOptions options{.clip = c.clip, .noise_multiplier = c.noise_multiplier};
  if (c.target_epsilon) {
    const int64_t steps = c.steps > 0 ? c.steps : config.protocol.rounds * config.protocol.local_steps;
    const double q = learner.dp_sgd_sampling_rate();
    Result<double> sigma = privacy::SolveSigma(*c.target_epsilon, q, std::max<int64_t>(steps, 1),
                                               config.protocol.privacy.delta);
    if (!sigma.ok()) {
      return Status::InvalidArgument("privacy.target_epsilon = ", *c.target_epsilon,
                                     " cannot be met by peer ", peer, " (q = ", q, ", ", steps,
                                     " steps): ", sigma.status().message(),
                                     "; raise the target or lower privacy.dp_sgd_steps");
    }
    options.noise_multiplier = *sigma;
  }
  if (streams) {
    learner.EnableDpSgd(options, streams->sampling, streams->noise);
    return Status::Ok();
  }
  // Sub-streams 1 and 2 of the peer's batch stream (the plain mini-batch
  // stream is its sub-stream 0, which never draws 2^40 blocks).
  learner.EnableDpSgd(options, Rng::ForStep(config.seed, peer, RngPurpose::kBatch, 1),
                      Rng::ForStep(config.seed, peer, RngPurpose::kBatch, 2));
  return Status::Ok();
}

}  // namespace

Result<TrainTestSplit> LoadRunData(const RunConfig& config) {
  Result<TrainTestSplit> data = LoadDataset(config);
  // A damaged dataset file is the user's to fix (exit code 2), like a
  // missing one.
  if (!data.ok() && data.status().code() == StatusCode::kCorrupt) {
    return Status::InvalidArgument(data.status().message());
  }
  return data;
}

Result<std::unique_ptr<Model>> MakeRunModel(const RunConfig& config, const Dataset& train) {
  return MakeModel(config.model, InputShape{.channels = train.channels,
                                            .height = train.height,
                                            .width = train.width,
                                            .num_classes = train.num_classes});
}

Result<std::vector<PeerId>> DataPoisoners(const RunConfig& config, const Dataset& train) {
  const ByzantineConfig& attack = config.protocol.byzantine;
  if (!PoisonsData(attack.attack)) return std::vector<PeerId>{};
  for (int64_t c : {attack.source_class, attack.target_class}) {
    if (c >= train.num_classes) {
      return Status::InvalidArgument("byzantine.source_class / target_class = ", c,
                                     " but the dataset has ", train.num_classes, " classes");
    }
  }
  MURMUR_RETURN_IF_ERROR(ByzantineCount(attack, config.peers).status());
  return ChooseByzantinePeers(attack, config.peers, config.seed);
}

Result<PeerLearner> MakePeerLearner(const RunConfig& config, const Model& model,
                                    const Dataset& train, std::vector<int64_t> shard, PeerId peer,
                                    std::span<const PeerId> poisoners,
                                    std::optional<DpSgdStreams> dp_sgd_streams) {
  if (shard.empty()) {
    return Status::InvalidArgument("peer ", peer, " received no training samples; use ",
                                   "fewer peers or another partition");
  }
  PeerLearner out;
  if (config.data.validation_fraction > 0 && shard.size() >= 2) {
    Rng rng(config.seed, peer, RngPurpose::kValidation);
    rng.Shuffle(std::span<int64_t>(shard));
    auto held = static_cast<size_t>(config.data.validation_fraction *
                                    static_cast<double>(shard.size()));
    held = std::clamp<size_t>(held, 1, shard.size() - 1);
    auto validation = std::make_unique<Dataset>();
    validation->name = train.name + " (validation)";
    validation->channels = train.channels;
    validation->height = train.height;
    validation->width = train.width;
    validation->num_classes = train.num_classes;
    const auto dim = static_cast<size_t>(train.sample_dim());
    validation->features.resize(held * dim);
    for (size_t k = shard.size() - held, row = 0; k < shard.size(); ++k, ++row) {
      train.CopySample(shard[k], validation->features.data() + row * dim);
      validation->labels.push_back(train.labels[shard[k]]);
    }
    shard.resize(shard.size() - held);
    std::sort(shard.begin(), shard.end());
    out.validation = std::move(validation);
  }
  const Dataset* data = &train;
  if (std::binary_search(poisoners.begin(), poisoners.end(), peer)) {
    out.poisoned = std::make_unique<Dataset>(
        MakePoisonedDataset(train, shard, config.protocol.byzantine));
    data = out.poisoned.get();
    // The poisoned copy holds exactly the shard, in order.
    for (size_t k = 0; k < shard.size(); ++k) shard[k] = static_cast<int64_t>(k);
  }
  out.learner = std::make_unique<Learner>(
      model, *data, std::move(shard), config.train.optimizer, config.train.batch_size,
      Rng(config.seed, config.train.same_init ? PeerId(0) : peer, RngPurpose::kInit),
      Rng(config.seed, peer, RngPurpose::kBatch));
  if (config.train.output_layer_only) {
    const OutputLayer layer = OutputLayerOf(model);
    out.learner->SetTrainableRange(layer.offset, layer.size());
  }
  if (config.train.dp_sgd.enabled) {
    MURMUR_RETURN_IF_ERROR(EnableDpSgd(config, peer, *out.learner, std::move(dp_sgd_streams)));
  }
  return out;
}

Status LoadInitialModel(const RunConfig& config, const Model& model,
                        std::span<Learner* const> learners) {
  if (config.init_checkpoint.empty()) return Status::Ok();
  MURMUR_ASSIGN_OR_RETURN(std::vector<float> initial,
                          LoadCheckpoint(config.init_checkpoint, CheckpointArchitecture(model),
                                         model.num_params()));
  // A new head on a pretrained body keeps the learners' own initialization.
  const auto end = config.reinit_output
                       ? initial.begin() + static_cast<std::ptrdiff_t>(OutputLayerOf(model).offset)
                       : initial.end();
  for (Learner* l : learners) std::copy(initial.begin(), end, l->params().begin());
  return Status::Ok();
}

}  // namespace murmur
