// Everything a simulated run is configured by, read from TOML with
// ReadRunConfig. The defaults here (which ReadRunConfig uses for absent
// keys) are the built-in quickstart: 16 peers running
// D-PSGD on a ring, training an MLP on IID-partitioned Fashion-MNIST.
// docs/config.md lists every key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "murmur/core/config.h"
#include "murmur/learn/learner.h"
#include "murmur/learn/model.h"
#include "murmur/learn/partition.h"
#include "murmur/learn/text_dataset.h"
#include "murmur/protocol/protocol.h"
#include "murmur/experiment/eval_collector.h"
#include "murmur/sim/simulator.h"

namespace murmur {

enum class DatasetKind { kFashionMnist, kSynthetic, kFortunes, kNpz, kLeaf, kCifar10 };

struct DataConfig {
  DatasetKind dataset = DatasetKind::kFashionMnist;
  std::string path = kFashionMnistDir;
  PartitionConfig partition;
  int64_t synthetic_train = 4000;
  int64_t synthetic_test = 1000;
  double synthetic_noise = 1.0;
  CharCorpusOptions text;  // fortunes: context, chunk length, test split
  // Share of each peer's shard held out as its local validation split
  // (seeded); the learner trains on the rest. Bristle evaluates on it.
  double validation_fraction = 0;
};

// Sample-level DP-SGD in every peer's learner (Learner::EnableDpSgd;
// docs/privacy.md): the privacy.dp_sgd* keys and privacy.target_epsilon.
struct DpSgdConfig {
  bool enabled = false;           // privacy.dp_sgd
  double clip = 1.0;              // privacy.dp_sgd_clip: C
  double noise_multiplier = 0;    // privacy.dp_sgd_noise_multiplier: sigma
  // privacy.target_epsilon: each peer solves for the smallest sigma that
  // keeps `steps` of its steps (epsilon, privacy.delta)-DP at its q,
  // replacing noise_multiplier.
  std::optional<double> target_epsilon;
  // privacy.dp_sgd_steps: the per-peer step budget target_epsilon is solved
  // for; 0 means protocol.rounds * protocol.local_steps.
  int64_t steps = 0;
};

struct TrainConfig {
  OptimizerConfig optimizer{.kind = OptimizerKind::kSgd, .lr = 0.02, .momentum = 0.9};
  int64_t batch_size = 32;
  // Same initial model on every peer (as D-PSGD's analysis assumes), or an
  // independent one per peer.
  bool same_init = true;
  // When set, the mean of the peers' final models is written here as a
  // checkpoint (learn/checkpoint.h); `murmur run --out DIR` puts a relative
  // path under DIR (ResolveRunPaths). An existing file is refused before the
  // run starts unless overwrite_checkpoint (train.overwrite_checkpoint).
  std::string save_checkpoint;
  bool overwrite_checkpoint = false;
  // model.kind = "torchscript": the same mean model written back as a
  // TorchScript file (ExportTorchScript) that torch.jit.load reads.
  std::string export_model;
  // train.trainable = "output": transfer learning with a frozen body; only
  // the output layer trains (Learner::SetTrainableRange) and, in D-PSGD, is
  // exchanged.
  bool output_layer_only = false;
  DpSgdConfig dp_sgd;
};

struct RunConfig {
  uint64_t seed = 1;
  int64_t peers = 16;
  int64_t threads = 0;  // compute threads; 0: one per core
  // sim.snapshot_every_s: virtual seconds between snapshots of the run
  // (experiment/run_snapshot.h); 0: none.
  double snapshot_every_s = 0;
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  ProtocolConfig protocol;
  SimConfig sim;
  EvalConfig eval;
  // model.init_checkpoint: every peer starts from this checkpoint's
  // parameters instead of a random initialization; empty: none.
  std::string init_checkpoint;
  // model.reinit_output: load only the body from init_checkpoint; the
  // output layer keeps its fresh seeded initialization (a new head on a
  // pretrained feature extractor).
  bool reinit_output = false;
  // The fully resolved configuration (defaults included) as TOML.
  std::string resolved_toml;
};

// Resolves the run's relative output paths (train.save_checkpoint) under
// `out_dir`, the run's --out directory (unchanged when `out_dir` is empty).
void ResolveRunPaths(RunConfig& config, const std::string& out_dir);

// Reads and validates every key; kInvalidArgument names the key and the bad
// value, or the unknown key.
Result<RunConfig> ReadRunConfig(const Config& config);

}  // namespace murmur
