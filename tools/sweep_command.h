// `murmur sweep`: runs every cell of a grid (sweep_grid.h) times every seed
// as a separate `murmur run` process, a few at a time, then tabulates the
// final accuracy per cell (results.csv, results.md) and draws it as a
// heatmap (heatmap.svg).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace murmur::cli {

struct SweepOptions {
  std::string grid_path;
  std::string out_dir;  // empty: runs/<grid file name without .toml>
  int jobs = 0;         // 0: the grid's `jobs`
  bool dry_run = false;
  std::string slurm_script;  // non-empty: write a Slurm array job script here instead
};

// Registers the subcommand; `options` must outlive `app`.
CLI::App* AddSweepCommand(CLI::App& app, SweepOptions& options);
// Returns the process exit code: 0 when every run finished, 1 when some
// run failed (the others still ran, and the results cover them), 2 for a
// bad grid, base config or cell, found before anything runs.
int SweepCommand(const SweepOptions& options);

}  // namespace murmur::cli
