#include "murmur/sim/run_setup.h"

namespace murmur {

Result<TrainTestSplit> LoadRunData(const RunConfig& config) {
  if (config.data.dataset == DatasetKind::kSynthetic) {
    return MakeSyntheticDataset(SyntheticOptions{.train_size = config.data.synthetic_train,
                                                 .test_size = config.data.synthetic_test,
                                                 .noise = config.data.synthetic_noise,
                                                 .seed = config.seed});
  }
  return LoadFashionMnist(config.data.path);
}

Result<std::unique_ptr<Model>> MakeRunModel(const RunConfig& config, const Dataset& train) {
  return MakeModel(config.model, InputShape{.channels = train.channels,
                                            .height = train.height,
                                            .width = train.width,
                                            .num_classes = train.num_classes});
}

Result<std::unique_ptr<Learner>> MakePeerLearner(const RunConfig& config, const Model& model,
                                                 const Dataset& train,
                                                 std::vector<int64_t> shard, PeerId peer) {
  if (shard.empty()) {
    return Status::InvalidArgument("peer ", peer, " received no training samples; use ",
                                   "fewer peers or another partition");
  }
  return std::make_unique<Learner>(
      model, train, std::move(shard), config.train.optimizer, config.train.batch_size,
      Rng(config.seed, config.train.same_init ? PeerId(0) : peer, RngPurpose::kInit),
      Rng(config.seed, peer, RngPurpose::kBatch));
}

}  // namespace murmur
