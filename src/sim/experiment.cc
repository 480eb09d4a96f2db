#include "murmur/sim/experiment.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "murmur/learn/checkpoint.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"

namespace murmur {
namespace {

Result<TrainTestSplit> LoadData(const RunConfig& config) {
  if (config.data.dataset == DatasetKind::kSynthetic) {
    return MakeSyntheticDataset(SyntheticOptions{.train_size = config.data.synthetic_train,
                                                 .test_size = config.data.synthetic_test,
                                                 .noise = config.data.synthetic_noise,
                                                 .seed = config.seed});
  }
  if (config.data.dataset == DatasetKind::kFortunes) {
    return LoadFortunes(config.data.path, config.data.text);
  }
  return LoadFashionMnist(config.data.path);
}

// Writes the mean of the peers' final models (for spsa peers, their one
// shared model) as a checkpoint.
Status SaveMeanModel(const std::string& path, const std::vector<std::unique_ptr<Learner>>& learners) {
  std::vector<double> sum(learners.front()->params().size(), 0.0);
  for (const auto& l : learners) {
    std::span<const float> p = std::as_const(*l).params();
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += p[i];
  }
  std::vector<float> mean(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) {
    mean[i] = static_cast<float>(sum[i] / static_cast<double>(learners.size()));
  }
  return SaveCheckpoint(path, mean);
}

// Refuses runs whose parameter and optimizer buffers alone would not fit in
// this machine's memory, instead of dying in an allocation halfway.
Status CheckMemory(const RunConfig& config, int64_t num_params) {
  const OptimizerConfig& opt = config.train.optimizer;
  const int buffers = 1 + (opt.kind == OptimizerKind::kAdam ? 2 : (opt.momentum > 0 ? 1 : 0));
  const double bytes = static_cast<double>(config.peers) * static_cast<double>(num_params) *
                       sizeof(float) * buffers;
  const double physical = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                          static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (physical > 0 && bytes > 0.8 * physical) {
    return Status::InvalidArgument(
        config.peers, " peers x ", num_params, " parameters need ", bytes / 1e9,
        " GB for parameters and optimizer state alone; this machine has ", physical / 1e9,
        " GB. Use fewer peers or a smaller model");
  }
  return Status::Ok();
}

// The Byzantine peers whose attack poisons their training data (none for
// other attacks), sorted. kInvalidArgument for a class the data lacks.
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

}  // namespace

SimulationResult SimulateProtocol(ProtocolSetup setup, const Model& model, const Dataset& test,
                                  const SimConfig& sim_config, const EvalConfig& eval,
                                  int64_t rounds, uint64_t seed, ThreadPool& pool,
                                  const RunObserver& observer) {
  const auto num_nodes = static_cast<int64_t>(setup.nodes.size());
  const Simulator* sim_view = nullptr;
  // When any holder may report a round's model, every holder is watched.
  const bool first_report = setup.round_model == RoundModel::kFirstReport;
  EvalCollector collector(
      model, test, eval, rounds,
      SampleEvaluatedPeers(setup.model_holders, first_report ? 0 : eval.peers, seed),
      num_nodes, pool,
      [&sim_view] {
        return CollectorContext{.now = sim_view->now(),
                                .bytes_sent = sim_view->stats().bytes_sent,
                                .msgs_sent = sim_view->stats().msgs_sent,
                                .bytes_received = sim_view->stats().bytes_received,
                                .max_peer_bytes = sim_view->stats().max_peer_bytes};
      },
      observer);
  if (first_report) collector.EmitOnFirstReport();
  std::vector<MetricsSink*> sinks;
  for (int64_t i = 0; i < num_nodes; ++i) {
    sinks.push_back(collector.SinkFor(PeerId(static_cast<uint32_t>(i))));
  }
  Simulator sim(sim_config, seed, std::move(setup.nodes), std::move(sinks), pool);
  sim_view = &sim;
  sim.Run([&collector] { return collector.finished(); });
  collector.Flush();
  return SimulationResult{
      .rows = collector.rows(),
      .stats = sim.stats(),
      .counters = collector.counters(),
      .nodes = sim.ReleaseNodes()};
}

Result<RunSummary> RunExperiment(const RunConfig& config, const RunObserver& observer) {
  const auto start = std::chrono::steady_clock::now();
  ConfigureTorchThreads(1);
  MURMUR_ASSIGN_OR_RETURN(TrainTestSplit data, LoadData(config));
  MURMUR_ASSIGN_OR_RETURN(
      Partition partition,
      PartitionDataset(data.train.labels, data.train.num_classes, config.peers,
                       config.data.partition, config.seed));
  MURMUR_ASSIGN_OR_RETURN(
      std::unique_ptr<Model> model,
      MakeModel(config.model, InputShape{.channels = data.train.channels,
                                         .height = data.train.height,
                                         .width = data.train.width,
                                         .num_classes = data.train.num_classes}));

  MURMUR_RETURN_IF_ERROR(CheckMemory(config, model->num_params()));

  // Label-flip and sybil attackers train on poisoned copies of their shards
  // (declared before the learners, which reference them).
  MURMUR_ASSIGN_OR_RETURN(std::vector<PeerId> poisoners, DataPoisoners(config, data.train));
  std::vector<std::unique_ptr<Dataset>> poisoned;
  std::vector<std::unique_ptr<Learner>> learners;
  std::vector<Learner*> learner_ptrs;
  for (int64_t i = 0; i < config.peers; ++i) {
    const PeerId peer(static_cast<uint32_t>(i));
    if (partition[i].empty()) {
      return Status::InvalidArgument("peer ", i, " received no training samples; use ",
                                     "fewer peers or another partition");
    }
    const Dataset* train = &data.train;
    if (std::binary_search(poisoners.begin(), poisoners.end(), peer)) {
      poisoned.push_back(std::make_unique<Dataset>(
          MakePoisonedDataset(data.train, partition[i], config.protocol.byzantine)));
      train = poisoned.back().get();
      std::vector<int64_t> shard(partition[i].size());
      for (size_t k = 0; k < shard.size(); ++k) shard[k] = static_cast<int64_t>(k);
      partition[i] = std::move(shard);
    }
    learners.push_back(std::make_unique<Learner>(
        *model, *train, std::move(partition[i]), config.train.optimizer,
        config.train.batch_size,
        Rng(config.seed, config.train.same_init ? PeerId(0) : peer, RngPurpose::kInit),
        Rng(config.seed, peer, RngPurpose::kBatch)));
    learner_ptrs.push_back(learners.back().get());
  }
  if (!config.init_checkpoint.empty()) {
    MURMUR_ASSIGN_OR_RETURN(std::vector<float> initial,
                            LoadCheckpoint(config.init_checkpoint, model->num_params()));
    for (auto& l : learners) std::copy(initial.begin(), initial.end(), l->params().begin());
  }
  MURMUR_ASSIGN_OR_RETURN(ProtocolSetup setup,
                          MakeProtocol(config.protocol, learner_ptrs, *model, config.seed));

  const int64_t threads =
      config.threads > 0 ? config.threads
                         : std::max<int64_t>(1, std::thread::hardware_concurrency());
  ThreadPool pool(static_cast<int>(threads));
  const auto num_nodes = static_cast<int64_t>(setup.nodes.size());
  // A first-report protocol evaluates one model per round.
  const auto evaluated_peers =
      setup.round_model == RoundModel::kFirstReport
          ? int64_t{1}
          : static_cast<int64_t>(
                SampleEvaluatedPeers(setup.model_holders, config.eval.peers, config.seed).size());
  const auto setup_done = std::chrono::steady_clock::now();
  SimulationResult result =
      SimulateProtocol(std::move(setup), *model, data.test, config.sim, config.eval,
                       config.protocol.rounds, config.seed, pool, observer);

  if (!config.train.save_checkpoint.empty()) {
    MURMUR_RETURN_IF_ERROR(SaveMeanModel(config.train.save_checkpoint, learners));
  }
  RunSummary summary;
  summary.rows = std::move(result.rows);
  summary.stats = result.stats;
  summary.counters = std::move(result.counters);
  summary.num_params = model->num_params();
  summary.num_nodes = num_nodes;
  summary.evaluated_peers = evaluated_peers;
  summary.threads = threads;
  const auto end = std::chrono::steady_clock::now();
  summary.wall_s = std::chrono::duration<double>(end - start).count();
  summary.setup_wall_s = std::chrono::duration<double>(setup_done - start).count();
  return summary;
}

}  // namespace murmur
