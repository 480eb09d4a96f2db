#include "testing/scenario.h"

#include <algorithm>
#include <utility>

#include "murmur/experiment/metrics_files.h"
#include "murmur/learn/partition.h"

namespace murmur::testing {

Harness::Harness(const HarnessOptions& options) : options_(options), seed_trace_(options.seed) {
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
                                         options.peers, options.partition, options.seed)
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

std::vector<EvalRow> Harness::Run(const ProtocolConfig& protocol, const SimConfig& sim_config,
                                  int threads, EvalConfig eval, SimStats* stats,
                                  std::vector<Node*>* nodes_out) {
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

HarnessOptions NonIid(HarnessOptions options) {
  options.partition = PartitionConfig{.kind = PartitionKind::kShards, .shards_per_peer = 2};
  return options;
}

double LocalOnlyAccuracy(const HarnessOptions& options, int64_t rounds, int64_t local_steps) {
  Harness h(options);
  double sum = 0;
  for (int64_t i = 0; i < options.peers; ++i) {
    Learner& learner = h.learner(i);
    for (int64_t r = 0; r < rounds; ++r) {
      learner.ResetOptimizer();
      learner.Train(local_steps);
    }
    sum += Evaluate(h.model(), learner.params(), h.data().test, 0).accuracy;
  }
  return sum / static_cast<double>(options.peers);
}

Config SmallLossyRunConfig() {
  return Config::FromString(R"(
peers = 8
[data]
dataset = "synthetic"
synthetic_train = 1600
synthetic_test = 400
partition = "dirichlet"
alpha = 0.5
[model]
kind = "mlp"
hidden = [16]
[protocol]
rounds = 6
local_steps = 3
[sim]
loss = 0.1
speed_sigma = 0.5
churn_mean_online_s = 1.0
churn_mean_offline_s = 0.2
[eval]
every = 2
)", "small_lossy_run.toml").value();
}

ConfigRun RunFromConfig(const Config& config) {
  Result<RunConfig> read = ReadRunConfig(config);
  if (!read.ok()) return ConfigRun{.summary = read.status()};
  const RunConfig& run = *read;
  std::string jsonl;
  Result<RunSummary> summary = RunExperiment(
      run, RunObserver{.on_row = [&jsonl](const EvalRow& row) {
        jsonl += MetricsWriter::ToJson(row) + "\n";
      }});
  return ConfigRun{.summary = std::move(summary), .metrics_jsonl = std::move(jsonl)};
}

}  // namespace murmur::testing
