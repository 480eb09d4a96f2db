// Runs one simulated training run end to end: loads and partitions the
// data, builds one Learner per peer over a shared Model, builds the
// protocol's nodes, and drives them in the Simulator while an EvalCollector
// turns reported models into evaluation rows.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "murmur/experiment/eval_collector.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/run_config.h"
#include "murmur/experiment/run_snapshot.h"
#include "murmur/sim/simulator.h"

namespace murmur {

struct RunSummary {
  std::vector<EvalRow> rows;
  SimStats stats;
  std::map<std::string, int64_t> counters;
  int64_t num_params = 0;
  int64_t num_nodes = 0;
  int64_t evaluated_peers = 0;  // peers each evaluation row should cover
  int64_t threads = 0;
  // Per node: "peer", "client", "server" or "byzantine" (per-node traffic
  // is stats.peers).
  std::vector<std::string> roles;
  double wall_s = 0;       // wall-clock time of the whole run
  double setup_wall_s = 0; // of which: loading data and building peers
  // Why the run ended (kIncomplete: cut short by sim.max_time_s, stalled
  // or stopped), and the first row that reached eval.target_acc.
  RunEnd ended_by = RunEnd::kIncomplete;
  std::optional<TargetReached> target_reached;
};

// Whether the run ended normally (by its rounds, target or a budget) with
// every evaluated peer in its last row: `murmur run` exits 0 and
// summary.json says finished: true.
bool RunCompleted(const RunSummary& summary);

// What summary.json holds for `summary` of a run of `config` besides its
// last row (WriteRunSummary).
RunTotals TotalsOf(const RunConfig& config, const RunSummary& summary);


struct SimulationResult {
  std::vector<EvalRow> rows;
  SimStats stats;
  std::map<std::string, int64_t> counters;  // protocol counters by name
  std::vector<std::unique_ptr<Node>> nodes;  // as they ended the run
  RunEnd ended_by = RunEnd::kIncomplete;
  std::optional<TargetReached> target_reached;
  Status status;  // a snapshot that could not be restored or written
};

// Drives already-built nodes in a Simulator until the run's last row is out
// (or nothing is left to happen), evaluating `setup.model_holders` (a
// sample of eval.peers of them) on `test`. The last row is the last
// round's, the first to reach eval.target_acc, or, once virtual time or the
// bytes sent reach sim_config.budget (checked after every event), that of
// the first round no evaluated peer had finished then
// (EvalCollector::EndAfterRoundInProgress). `pool` runs compute and
// evaluation; the learners behind the nodes must outlive the call.
SimulationResult SimulateProtocol(ProtocolSetup setup, const Model& model, const Dataset& test,
                                  const SimConfig& sim_config, const EvalConfig& eval,
                                  int64_t rounds, uint64_t seed, ThreadPool& pool,
                                  const RunObserver& observer);

// Snapshots of a run (run_snapshot.h): every `every_s` virtual seconds
// (0: never) the learners, the collector and the simulator are written to
// `dir`/snapshot.bin; with `resume` the run restores that state first and
// continues. `metrics_bytes` gives the lengths of metrics.jsonl and
// metrics.csv at a snapshot (the driver truncates them to those on resume).
struct RunSnapshots {
  std::string dir;
  double every_s = 0;
  uint64_t config_hash = 0;
  std::function<std::pair<uint64_t, uint64_t>()> metrics_bytes;
  const LoadedSnapshot* resume = nullptr;
  bool enabled() const { return every_s > 0 || resume != nullptr; }
};

// Returns kNotFound when the dataset is missing and kInvalidArgument for a
// configuration that cannot be built (e.g. a topology for too few peers), or
// with snapshots requested, for a protocol or option that cannot snapshot;
// kCorrupt for a snapshot that does not fit the run, kUnavailable when one
// cannot be written.
Result<RunSummary> RunExperiment(const RunConfig& config, const RunObserver& observer,
                                 const RunSnapshots& snapshots = {});

}  // namespace murmur
