// Runs one simulated training run end to end: loads and partitions the
// data, builds one Learner per peer over a shared Model, builds the
// protocol's nodes, and drives them in the Simulator while an EvalCollector
// turns reported models into evaluation rows.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "murmur/experiment/eval_collector.h"
#include "murmur/experiment/run_config.h"
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
};


struct SimulationResult {
  std::vector<EvalRow> rows;
  SimStats stats;
  std::map<std::string, int64_t> counters;  // protocol counters by name
  std::vector<std::unique_ptr<Node>> nodes;  // as they ended the run
};

// Drives already-built nodes in a Simulator until the row of the last round
// is out (or nothing is left to happen), evaluating `setup.model_holders`
// (a sample of eval.peers of them) on `test`. `pool` runs compute and
// evaluation; the learners behind the nodes must outlive the call.
SimulationResult SimulateProtocol(ProtocolSetup setup, const Model& model, const Dataset& test,
                                  const SimConfig& sim_config, const EvalConfig& eval,
                                  int64_t rounds, uint64_t seed, ThreadPool& pool,
                                  const RunObserver& observer);

// Returns kNotFound when the dataset is missing and kInvalidArgument for a
// configuration that cannot be built (e.g. a topology for too few peers).
Result<RunSummary> RunExperiment(const RunConfig& config, const RunObserver& observer);

}  // namespace murmur
