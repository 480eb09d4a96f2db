// Small simulated runs for scenario tests (tests/sim/), in two forms:
//  * Harness builds a run directly from library parts (data, partition,
//    learners, protocol nodes), so a test can look at every peer's
//    parameters and nodes, not only at the metrics;
//  * RunFromConfig runs a run configuration as `murmur run` does and keeps
//    its metrics.jsonl lines in memory.
// Both are deterministic functions of their options and seed; a Harness
// names its seed in every failure while it is alive (seeded_test.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "murmur/core/config.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/learn/dataset.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/partition.h"
#include "murmur/protocol/byzantine.h"
#include "murmur/protocol/protocol.h"
#include "testing/seeded_test.h"

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
  // How the training set is split across peers (IID by default).
  PartitionConfig partition;
};

// The non-IID task on which collaboration is necessary: `options` with the
// synthetic training set sorted by label, cut into 2 x peers shards of one
// class each and dealt two per peer (McMahan et al.'s shards split), so each
// peer holds one or two of the ten classes. A peer trained alone predicts
// only its own classes and stays near 0.1-0.2 test accuracy, far below what
// mixing reaches (LocalOnlyAccuracy measures it).
HarnessOptions NonIid(HarnessOptions options);

// The local-only baseline of a scenario: the mean test accuracy of the peers
// of a Harness built from `options` after each trained `rounds` x
// `local_steps` SGD steps alone (the optimizer reset every round, as the
// round-based protocols do), with no communication at all. A protocol
// "learns" on a task only by a margin over this number, measured in the
// same test.
double LocalOnlyAccuracy(const HarnessOptions& options, int64_t rounds, int64_t local_steps);

// `peers` learners over one synthetic dataset (split by `partition`,
// seeded by `seed`), initialised alike when `same_init`. Not copyable or movable (it
// holds a gtest scoped trace); build it as a local of the test.
class Harness {
 public:
  explicit Harness(const HarnessOptions& options);

  Learner& learner(int64_t i) { return *learners_[i]; }
  const Model& model() const { return *model_; }
  const TrainTestSplit& data() const { return data_; }

  // Runs the protocol to completion and returns the evaluation rows. When
  // `nodes_out` is given, receives raw pointers to the nodes (kept alive
  // until the next Run).
  std::vector<EvalRow> Run(const ProtocolConfig& protocol, const SimConfig& sim_config = {},
                           int threads = 1, EvalConfig eval = {.every = 5},
                           SimStats* stats = nullptr,
                           std::vector<Node*>* nodes_out = nullptr);

 private:
  HarnessOptions options_;
  SeedTrace seed_trace_;
  TrainTestSplit data_;
  std::unique_ptr<Model> model_;
  std::vector<std::unique_ptr<Dataset>> poisoned_;  // before learners_: outlives them
  std::vector<std::unique_ptr<Learner>> learners_;
  std::vector<Learner*> ptrs_;
  std::unique_ptr<ThreadPool> pool_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// The small run the seeded configuration scenarios share: 8 peers, an MLP
// with 16 hidden units on 1600/400 synthetic samples split by Dirichlet(0.5),
// 6 rounds of 3 local steps, 10% message loss, log-normal device speeds
// (sigma 0.5), churn (online 1 s, offline 0.2 s on average), evaluation
// every 2 rounds. Tests set the protocol on top.
Config SmallLossyRunConfig();

// What RunFromConfig returns: the run's summary (or why it failed) and its
// metrics.jsonl lines, one per evaluation row, each ending in '\n'.
struct ConfigRun {
  Result<RunSummary> summary;
  std::string metrics_jsonl;
};

// Runs `config` through ReadRunConfig and RunExperiment.
// REQUIRES: ReadRunConfig accepts `config` (a rejected one aborts).
ConfigRun RunFromConfig(const Config& config);

}  // namespace murmur::testing
