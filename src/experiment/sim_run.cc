#include "murmur/experiment/sim_run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>

#include "murmur/learn/checkpoint.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/experiment/run_plan.h"
#include "murmur/experiment/run_setup.h"
#include "murmur/robust/external_rules.h"
#include "run_snapshotter.h"

namespace murmur {
namespace {

// Writes the mean of the peers' final models (for spsa peers, their one
// shared model) as a checkpoint.
// The mean of the peers' final models.
std::vector<float> MeanModel(const std::vector<std::unique_ptr<Learner>>& learners) {
  std::vector<double> sum(learners.front()->params().size(), 0.0);
  for (const auto& l : learners) {
    std::span<const float> p = std::as_const(*l).params();
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += p[i];
  }
  std::vector<float> mean(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) {
    mean[i] = static_cast<float>(sum[i] / static_cast<double>(learners.size()));
  }
  return mean;
}

// A checkpoint already on disk is someone's earlier result (and maybe
// another run's model.init_checkpoint): never replaced unless asked, and
// refused before the run rather than after it.
Status CheckOutputTarget(const char* key, const std::string& path, bool overwrite) {
  if (path.empty() || overwrite) return Status::Ok();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::Ok();
  return Status::InvalidArgument(
      key, ": '", path,
      "' already exists and a run never replaces a checkpoint: remove it, pick another path "
      "(a relative one goes under --out), or set train.overwrite_checkpoint = true");
}

Status CheckCheckpointTarget(const TrainConfig& train) {
  MURMUR_RETURN_IF_ERROR(
      CheckOutputTarget("train.save_checkpoint", train.save_checkpoint, train.overwrite_checkpoint));
  return CheckOutputTarget("train.export_model", train.export_model, train.overwrite_checkpoint);
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

// Snapshots need every node and learner to save its state (Node::CanSnapshot).
Status CheckCanSnapshot(const RunConfig& config, const ProtocolSetup& setup,
                        const std::vector<Learner*>& learners) {
  const char* why = nullptr;
  for (const auto& node : setup.nodes) {
    if (!node->CanSnapshot()) why = "its nodes cannot save their state";
  }
  // The likeliest causes by name: a Python rule's state is its callable's.
  if (why != nullptr && IsExternalRuleName(config.protocol.robust.rule)) {
    why = "robust.rule is a Python rule, whose state, if any, lives inside its Python "
          "callable where a snapshot cannot save it";
  } else if (why != nullptr && config.protocol.privacy.mode != privacy::DpMode::kNone) {
    why = "[privacy] noise keeps state (the release and clip streams) that is not saved";
  }
  for (const Learner* learner : learners) {
    if (!learner->CanSnapshot()) why = "DP-SGD learners (train.dp_sgd) cannot save their state";
  }
  if (why == nullptr) return Status::Ok();
  return Status::InvalidArgument(
      "protocol.kind = \"", config.protocol.kind, "\" with this config cannot snapshot or resume (",
      why, "): snapshots support dpsgd (plain average, any built-in robust rule, sybilwall, "
      "bristle; Byzantine peers with every attack), epidemic, sgp, modest, gossip (average merge "
      "or a built-in robust rule; Byzantine peers; fp32 codec) and fedavg / fedprox (no "
      "compression or secure aggregation; any server optimizer; a built-in robust rule; "
      "Byzantine clients), all without [privacy] noise or Python (\"py:\") rules; drop "
      "sim.snapshot_every_s / --snapshot-every / --resume");
}

// Drives `setup`'s nodes with the evaluated peers and row rule of `plan`.
SimulationResult SimulatePlanned(ProtocolSetup setup, const RunPlan& plan, const Model& model,
                                 const Dataset& test, const SimConfig& sim_config,
                                 const EvalConfig& eval, int64_t rounds, uint64_t seed,
                                 ThreadPool& pool, const RunObserver& observer,
                                 std::span<Learner* const> learners = {},
                                 const RunSnapshots& snapshots = {},
                                 bool parallel_events = false) {
  const Simulator* sim_view = nullptr;
  const std::optional<PeerId> server = plan.server;
  EvalCollector collector(
      model, test, eval, rounds, plan.evaluated, plan.num_nodes, pool,
      [&sim_view, server] {
        const SimStats& s = sim_view->stats();
        CollectorContext ctx{.now = sim_view->now(),
                             .bytes_sent = s.bytes_sent,
                             .msgs_sent = s.msgs_sent,
                             .bytes_received = s.bytes_received,
                             .max_peer_bytes = s.max_peer_bytes};
        if (server) {
          ctx.bytes_up = s.peers[server->value].bytes_addressed;
          ctx.bytes_down = s.peers[server->value].bytes_sent;
        }
        return ctx;
      },
      observer);
  if (plan.first_report) collector.EmitOnFirstReport();
  if (plan.epsilon_of_round) collector.SetEpsilonOfRound(plan.epsilon_of_round);
  std::vector<MetricsSink*> sinks;
  for (int64_t i = 0; i < plan.num_nodes; ++i) {
    sinks.push_back(collector.SinkFor(PeerOf(i)));
  }
  Simulator sim(sim_config, seed, std::move(setup.nodes), std::move(sinks), pool);
  sim_view = &sim;
  if (parallel_events) sim.EnableParallelEvents();
  RunSnapshotter snapshotter(snapshots, learners, collector, sim);
  if (Status s = snapshotter.Restore(); !s.ok()) {
    return SimulationResult{.status = std::move(s)};
  }
  const BudgetConfig& budget = sim_config.budget;
  sim.Run([&] {
    // Checked after every event, in event order, so the same seed crosses
    // at the same event; the run then ends after the round in progress.
    if (budget.time_s > 0 && sim.now().seconds() >= budget.time_s) {
      collector.EndAfterRoundInProgress(RunEnd::kTimeBudget);
    } else if (budget.bytes > 0 && sim.stats().bytes_sent >= budget.bytes) {
      collector.EndAfterRoundInProgress(RunEnd::kByteBudget);
    }
    if (!snapshotter.AfterEvent()) return true;
    return collector.finished() || (observer.stop && observer.stop());
  });
  collector.Flush();
  return SimulationResult{
      .rows = collector.rows(),
      .stats = sim.stats(),
      .counters = collector.counters(),
      .nodes = sim.ReleaseNodes(),
      .ended_by = collector.ended_by(),
      .target_reached = collector.target_reached(),
      .status = snapshotter.status()};
}

}  // namespace

bool RunCompleted(const RunSummary& summary) {
  return summary.ended_by != RunEnd::kIncomplete && !summary.rows.empty() &&
         summary.rows.back().peers_evaluated >= summary.evaluated_peers;
}

RunTotals TotalsOf(const RunConfig& config, const RunSummary& summary) {
  return RunTotals{.virtual_time_s = summary.stats.now.seconds(),
                   .rounds = config.protocol.rounds,
                   .finished = RunCompleted(summary),
                   .ended_by = summary.ended_by,
                   .target_acc = config.eval.target_acc,
                   .target_reached = summary.target_reached,
                   .counters = summary.counters};
}

SimulationResult SimulateProtocol(ProtocolSetup setup, const Model& model, const Dataset& test,
                                  const SimConfig& sim_config, const EvalConfig& eval,
                                  int64_t rounds, uint64_t seed, ThreadPool& pool,
                                  const RunObserver& observer) {
  const RunPlan plan = PlanRun(eval, seed, setup.layout);
  return SimulatePlanned(std::move(setup), plan, model, test, sim_config, eval, rounds, seed,
                         pool, observer);
}

Result<RunSummary> RunExperiment(const RunConfig& config, const RunObserver& observer,
                                 const RunSnapshots& snapshots) {
  const auto start = std::chrono::steady_clock::now();
  MURMUR_RETURN_IF_ERROR(CheckCheckpointTarget(config.train));
  ConfigureTorchThreads(1);
  MURMUR_ASSIGN_OR_RETURN(TrainTestSplit data, LoadRunData(config));
  MURMUR_ASSIGN_OR_RETURN(
      Partition partition,
      PartitionDataset(data.train, config.peers, config.data.partition, config.seed));
  MURMUR_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, MakeRunModel(config, data.train));

  MURMUR_RETURN_IF_ERROR(CheckMemory(config, model->num_params()));

  // Label-flip and sybil attackers train on poisoned copies of their shards
  // (declared before the learners, which reference them).
  MURMUR_ASSIGN_OR_RETURN(std::vector<PeerId> poisoners, DataPoisoners(config, data.train));
  std::vector<std::unique_ptr<Dataset>> poisoned;
  std::vector<std::unique_ptr<Dataset>> validation;
  std::vector<const Dataset*> validation_ptrs;
  std::vector<std::unique_ptr<Learner>> learners;
  std::vector<Learner*> learner_ptrs;
  const int64_t threads = SetupThreads(config);
  ThreadPool pool(static_cast<int>(threads));
  // Each peer's learner depends only on its own shard and streams, so they
  // are built (parameters initialized) in parallel, then taken in order.
  std::vector<std::optional<Result<PeerLearner>>> built(static_cast<size_t>(config.peers));
  pool.ParallelFor(built.size(), [&](size_t i) {
    built[i] = MakePeerLearner(config, *model, data.train, std::move(partition[i]),
                               PeerOf(static_cast<int64_t>(i)), poisoners);
  });
  for (int64_t i = 0; i < config.peers; ++i) {
    MURMUR_ASSIGN_OR_RETURN(PeerLearner made, std::move(*built[i]));
    if (made.poisoned != nullptr) poisoned.push_back(std::move(made.poisoned));
    validation_ptrs.push_back(made.validation.get());
    validation.push_back(std::move(made.validation));
    learners.push_back(std::move(made.learner));
    learner_ptrs.push_back(learners.back().get());
  }
  MURMUR_RETURN_IF_ERROR(LoadInitialModel(config, *model, learner_ptrs));
  MURMUR_ASSIGN_OR_RETURN(ProtocolSetup setup,
                          MakeProtocol(config.protocol, learner_ptrs, *model, config.seed,
                                       config.data.validation_fraction > 0
                                           ? std::span<const Dataset* const>(validation_ptrs)
                                           : std::span<const Dataset* const>()));

  if (snapshots.enabled()) {
    MURMUR_RETURN_IF_ERROR(CheckCanSnapshot(config, setup, learner_ptrs));
  }
  RunPlan plan = PlanRun(config, setup.layout);
  if (config.train.dp_sgd.enabled) {
    plan.epsilon_of_round =
        SmallerEpsilon(DpSgdEpsilonOf(config, {learner_ptrs.begin(), learner_ptrs.end()}),
                       RqmEpsilonOfRound(config, setup.layout.model_dimension));
  }
  const auto setup_done = std::chrono::steady_clock::now();
  // Parallel event windows may run a few events past the one that ends the
  // run (simulator.h): only where nothing reads the learners afterwards.
  const bool parallel_events = !snapshots.enabled() && config.train.save_checkpoint.empty() &&
                               config.train.export_model.empty();
  SimulationResult result =
      SimulatePlanned(std::move(setup), plan, *model, data.test, config.sim, config.eval,
                      config.protocol.rounds, config.seed, pool, observer, learner_ptrs,
                      snapshots, parallel_events);
  MURMUR_RETURN_IF_ERROR(result.status);

  if (!config.train.save_checkpoint.empty()) {
    MURMUR_RETURN_IF_ERROR(SaveCheckpoint(config.train.save_checkpoint, MeanModel(learners),
                                          CheckpointArchitecture(*model)));
  }
  if (!config.train.export_model.empty()) {
    MURMUR_RETURN_IF_ERROR(ExportTorchScript(*model, MeanModel(learners), config.train.export_model));
  }
  RunSummary summary;
  summary.rows = std::move(result.rows);
  summary.stats = result.stats;
  summary.counters = std::move(result.counters);
  summary.num_params = model->num_params();
  summary.num_nodes = plan.num_nodes;
  summary.evaluated_peers = plan.peers_per_row;
  summary.threads = threads;
  summary.roles = std::move(plan.roles);
  summary.ended_by = result.ended_by;
  summary.target_reached = result.target_reached;
  const auto end = std::chrono::steady_clock::now();
  summary.wall_s = std::chrono::duration<double>(end - start).count();
  summary.setup_wall_s = std::chrono::duration<double>(setup_done - start).count();
  return summary;
}

}  // namespace murmur
