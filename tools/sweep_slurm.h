// `murmur sweep GRID --slurm FILE`: instead of running the sweep, write a
// Slurm array job script with one array task per grid cell. Task k
// (SLURM_ARRAY_TASK_ID=k) runs cell k's runs (one per seed) one after
// another, each exactly as `murmur sweep` would start it (same binary,
// arguments, run directory, log.txt and sweep_run.txt record). Once every
// task is done, `murmur sweep GRID --out DIR` finds the runs complete,
// skips them and writes results.csv, results.md and heatmap.svg.
#pragma once

#include <string>
#include <vector>

namespace murmur::cli {

struct SlurmRun {
  std::string dir;                // the run's directory (as the sweep plans it)
  std::vector<std::string> args;  // after the program name: "run", ..., "--out", dir
};

struct SlurmCell {
  std::string name;  // the cell's directory-safe name
  std::vector<SlurmRun> runs;
};

struct SlurmScriptSpec {
  std::string job_name;     // #SBATCH --job-name
  std::string murmur;       // absolute path of the binary the tasks run
  std::string workdir;      // absolute; the tasks cd here, so relative paths hold
  std::string grid_path;    // for the comment telling what to run afterwards
  std::string out_dir;      // the sweep's output directory (as given)
  std::string log_dir;      // absolute; Slurm's per-task output files go here
  int cpus_per_task = 1;
  std::vector<SlurmCell> cells;  // in grid order: task k is cells[k]
};

// The script's text (bash). Every path and argument is shell-quoted.
std::string SlurmArrayScript(const SlurmScriptSpec& spec);

// `s` quoted for a POSIX shell (unchanged when it needs no quoting).
std::string ShellQuote(const std::string& s);

}  // namespace murmur::cli
