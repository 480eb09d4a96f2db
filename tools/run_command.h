// `murmur run`: one simulated training run from a TOML config (or the
// built-in quickstart), with a progress bar and a summary table.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace murmur::cli {

struct RunOptions {
  std::string config_path;  // empty: built-in quickstart
  std::vector<std::string> sets;
  int64_t seed = -1;        // -1: from config
  int64_t threads = -1;     // -1: from config
  std::string out_dir;      // empty: write no files
  std::string export_model; // --export-model: train.export_model's value
  bool quiet = false;
  double snapshot_every = -1;  // --snapshot-every: sim.snapshot_every_s; -1: from config
  std::string resume_dir;      // --resume DIR: continue the run in DIR
};

// Registers the subcommand; `options` must outlive `app`.
CLI::App* AddRunCommand(CLI::App& app, RunOptions& options);
// Returns the process exit code: 0 success, 2 bad config or missing input,
// 1 any other failure.
int RunCommand(const RunOptions& options);

}  // namespace murmur::cli
