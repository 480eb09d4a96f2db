// Builds small simulated runs directly from library parts, so scenario tests
// can look at every peer's parameters, not only at the metrics.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/partition.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/protocol.h"
#include "murmur/experiment/sim_run.h"

namespace murmur::testing {

struct HarnessOptions {
  int64_t peers = 8;
  ModelKind model = ModelKind::kLogisticRegression;
  OptimizerConfig optimizer{.lr = 0.05};
  int64_t batch_size = 16;
  bool same_init = true;
  uint64_t seed = 1;
  int64_t train_size = 2000;
  int64_t test_size = 500;
  int64_t side = 28;  // synthetic images are side x side
  // For label-flip and sybil: the Byzantine peers (ChooseByzantinePeers of
  // this config) train on MakePoisonedDataset, as RunExperiment does.
  ByzantineConfig poison;
};

class Harness {
 public:
  explicit Harness(const HarnessOptions& options) : options_(options) {
    ConfigureTorchThreads(1);
    data_ = MakeSyntheticDataset(SyntheticOptions{
        .train_size = options.train_size,
        .test_size = options.test_size,
        .height = options.side,
        .width = options.side,
        .seed = options.seed});
    model_ = MakeModel(ModelConfig{.kind = options.model, .hidden = {32}},
                       InputShape{.height = options.side, .width = options.side}).value();
    Partition partition = PartitionDataset(data_.train.labels, data_.train.num_classes,
                                           options.peers, PartitionConfig{}, options.seed)
                              .value();
    const std::vector<PeerId> poisoners =
        PoisonsData(options.poison.attack)
            ? ChooseByzantinePeers(options.poison, options.peers, options.seed)
            : std::vector<PeerId>{};
    for (int64_t i = 0; i < options.peers; ++i) {
      const PeerId peer(static_cast<uint32_t>(i));
      const Dataset* train = &data_.train;
      std::vector<int64_t> shard = partition[i];
      if (std::find(poisoners.begin(), poisoners.end(), peer) != poisoners.end()) {
        poisoned_.push_back(
            std::make_unique<Dataset>(MakePoisonedDataset(data_.train, shard, options.poison)));
        train = poisoned_.back().get();
        for (size_t k = 0; k < shard.size(); ++k) shard[k] = static_cast<int64_t>(k);
      }
      learners_.push_back(std::make_unique<Learner>(
          *model_, *train, std::move(shard), options.optimizer, options.batch_size,
          Rng(options.seed, options.same_init ? PeerId(0) : peer, RngPurpose::kInit),
          Rng(options.seed, peer, RngPurpose::kBatch)));
      ptrs_.push_back(learners_.back().get());
    }
  }

  Learner& learner(int64_t i) { return *learners_[i]; }
  const Model& model() const { return *model_; }
  const TrainTestSplit& data() const { return data_; }

  // Runs the protocol to completion and returns the evaluation rows. When
  // `nodes_out` is given, receives raw pointers to the nodes (kept alive
  // until the next Run).
  std::vector<EvalRow> Run(const ProtocolConfig& protocol, const SimConfig& sim_config = {},
                           int threads = 1, EvalConfig eval = {.every = 5},
                           SimStats* stats = nullptr,
                           std::vector<Node*>* nodes_out = nullptr) {
    ProtocolSetup setup = MakeProtocol(protocol, ptrs_, *model_, options_.seed).value();
    if (nodes_out) {
      nodes_out->clear();
      for (auto& node : setup.nodes) nodes_out->push_back(node.get());
    }
    pool_ = std::make_unique<ThreadPool>(threads);
    SimulationResult result = SimulateProtocol(std::move(setup), *model_, data_.test, sim_config,
                                               eval, protocol.rounds, options_.seed, *pool_,
                                               RunObserver{});
    if (stats) *stats = result.stats;
    nodes_ = std::move(result.nodes);
    return result.rows;
  }

 private:
  HarnessOptions options_;
  TrainTestSplit data_;
  std::unique_ptr<Model> model_;
  std::vector<std::unique_ptr<Dataset>> poisoned_;  // before learners_: outlives them
  std::vector<std::unique_ptr<Learner>> learners_;
  std::vector<Learner*> ptrs_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace murmur::testing
