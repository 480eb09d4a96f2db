#include "sweep_command.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <limits>
#include <optional>
#include <set>
#include <toml++/toml.h>

#include "cli_common.h"
#include "murmur/core/config.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/run_config.h"
#include "murmur/protocol/registry.h"
#include "murmur/robust/factory.h"
#include "svg_plot.h"
#include "sweep_grid.h"
#include "sweep_results.h"
#include "sweep_runner.h"
#include "sweep_slurm.h"

namespace murmur::cli {
namespace {

// What a run does, for telling a grid's cells apart: its resolved config
// without the [robust] options of rules and pre-aggregators it does not use
// (those are read and type-checked for every run, so that one [set] can
// hold them all, and so show up in every resolved config).
std::string Fingerprint(const RunConfig& run) {
  toml::table doc;
  try {
    doc = toml::parse(run.resolved_toml);
  } catch (const toml::parse_error&) {
    return run.resolved_toml;
  }
  toml::table* robust = doc["robust"].as_table();
  if (robust == nullptr) return run.resolved_toml;
  std::set<std::string> used;  // option keys of the chosen rule and pre-aggregators
  std::set<std::string> all;
  auto add = [](std::set<std::string>& to, const std::vector<OptionSpec>& specs) {
    for (const OptionSpec& spec : specs) {
      if (spec.key.find('.') == std::string::npos) to.insert(spec.key);
    }
  };
  add(used, AggregatorOptions(run.protocol.robust.rule));
  for (const PreAggregatorConfig& stage : run.protocol.robust.pre) {
    add(used, PreAggregatorOptions(stage.name));
  }
  for (const std::string& name : AggregatorNames()) add(all, AggregatorOptions(name));
  for (const std::string& name : PreAggregatorNames()) add(all, PreAggregatorOptions(name));
  for (const std::string& key : all) {
    if (used.count(key) == 0) robust->erase(key);
  }
  std::ostringstream out;
  out << doc;
  return out.str();
}

// "f-5 (robust.f=5)": the cell's name and its axis values, for errors.
std::string CellDescription(const SweepGrid& grid, const SweepCell& cell) {
  std::string values;
  for (size_t i = grid.set.size(); i < cell.assignments.size(); ++i) {
    values += (values.empty() ? "" : ", ") + cell.assignments[i];
  }
  return cell.name + " (" + values + ")";
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "murmur sweep: %s\n", message.c_str());
  return kExitUsage;
}


// Builds every run and validates its config in-process, exactly as the
// child will read it, so a bad value stops the sweep before anything runs:
// also a [robust] rule whose precondition can never hold in a run
// (CheckRobustRuleFits, which `murmur run` calls when it builds the
// protocol), checked from the config alone for every seed.
Result<std::vector<PlannedRun>> PlanRuns(const SweepGrid& grid,
                                         const std::vector<SweepCell>& cells,
                                         const std::string& out_dir) {
  Result<Config> base = LoadConfig(grid.base_path, {});
  if (!base.ok()) return Status::InvalidArgument("base config: ", base.status().message());
  std::vector<PlannedRun> runs;
  for (size_t c = 0; c < cells.size(); ++c) {
    const SweepCell& cell = cells[c];
    const std::vector<std::optional<uint64_t>> seeds =
        grid.seeds.empty() ? std::vector<std::optional<uint64_t>>{std::nullopt}
                           : std::vector<std::optional<uint64_t>>(grid.seeds.begin(),
                                                                  grid.seeds.end());
    for (const std::optional<uint64_t>& seed : seeds) {
      PlannedRun run{.cell = c};
      Config config = *base;
      run.args = {"run"};
      if (!grid.base_path.empty()) run.args.push_back(grid.base_path);
      for (const std::string& a : cell.assignments) {
        if (Status s = config.Set(a); !s.ok()) {
          return Status::InvalidArgument("cell ", cell.name, ": ", s.message());
        }
        run.args.push_back("--set");
        run.args.push_back(a);
      }
      if (seed) {
        if (Status s = config.Set("seed=" + std::to_string(*seed)); !s.ok()) return s;
        run.args.push_back("--seed");
        run.args.push_back(std::to_string(*seed));
      }
      Result<RunConfig> resolved = ReadRunConfig(config);
      if (!resolved.ok()) {
        return Status::InvalidArgument("cell ", cell.name, ": ", resolved.status().message());
      }
      if (Status fits = CheckRobustRuleFits(resolved->protocol, resolved->peers, resolved->seed);
          !fits.ok()) {
        return Status::InvalidArgument(
            "cell ", CellDescription(grid, cell),
            seed ? ", seed " + std::to_string(*seed) : std::string(), ": ", fits.message());
      }
      run.seed = resolved->seed;
      run.rounds = resolved->protocol.rounds;
      run.threads = resolved->threads;
      run.resolved_toml = resolved->resolved_toml;
      run.fingerprint = Fingerprint(*resolved);
      run.dir = out_dir + "/runs/" + cell.name + "-s" + std::to_string(run.seed);
      run.args.push_back("--out");
      run.args.push_back(run.dir);
      runs.push_back(std::move(run));
    }
  }
  // An axis that changes nothing would give identical cells: compare each
  // cell's first run, whose seed is the same in every cell.
  std::vector<std::string> cell_configs;
  const size_t per_cell = std::max<size_t>(grid.seeds.size(), 1);
  for (size_t i = 0; i < runs.size(); i += per_cell) cell_configs.push_back(runs[i].fingerprint);
  MURMUR_RETURN_IF_ERROR(CheckEveryAxisMatters(grid, cells, cell_configs));
  return runs;
}


Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::Unavailable("cannot write '", path, "'");
  return Status::Ok();
}

// `--slurm FILE`: the array job script (sweep_slurm.h) for every run,
// task k being cell k; creates DIR for Slurm's output files.
int WriteSlurmScript(const SweepOptions& options, const std::vector<SweepCell>& cells,
                     const std::vector<PlannedRun>& runs, const std::string& out_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return Usage("cannot tell this binary's path (/proc/self/exe): " + ec.message());
  SlurmScriptSpec spec{.job_name = "murmur-" + fs::path(options.grid_path).stem().string(),
                       .murmur = exe.string(),
                       .workdir = fs::current_path().string(),
                       .grid_path = options.grid_path,
                       .out_dir = out_dir,
                       .log_dir = fs::absolute(out_dir).lexically_normal().string()};
  for (const SweepCell& cell : cells) spec.cells.push_back({.name = cell.name});
  for (const PlannedRun& run : runs) {
    spec.cells[run.cell].runs.push_back({.dir = run.dir, .args = run.args});
    spec.cpus_per_task = std::max<int>(spec.cpus_per_task, static_cast<int>(run.threads));
  }
  fs::create_directories(out_dir, ec);
  if (ec) return Usage("cannot create '" + out_dir + "': " + ec.message());
  if (Status s = WriteFile(options.slurm_script, SlurmArrayScript(spec)); !s.ok()) {
    return Usage(s.message());
  }
  fs::permissions(options.slurm_script, fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::add, ec);
  std::printf("wrote %s: %zu array tasks (one per cell), %zu runs\n"
              "submit: sbatch %s\nthen:   murmur sweep %s --out %s\n",
              options.slurm_script.c_str(), cells.size(), runs.size(),
              ShellQuote(options.slurm_script).c_str(), ShellQuote(options.grid_path).c_str(),
              ShellQuote(out_dir).c_str());
  return 0;
}

}  // namespace

CLI::App* AddSweepCommand(CLI::App& app, SweepOptions& options) {
  CLI::App* sweep = app.add_subcommand(
      "sweep",
      "Run a grid of simulations (every combination of the axes, every seed) as\n"
      "separate runs, a few at a time; tabulate and plot the final accuracy.\n"
      "Example: murmur sweep examples/sweep_quick.toml");
  sweep->footer(
      "A grid file:\n"
      "  base = \"fedavg.toml\"          # relative to the grid file; absent: quickstart\n"
      "  seeds = [1, 2]                # absent: the config's seed\n"
      "  jobs = 2                      # runs at a time (--jobs overrides)\n"
      "  rows = \"protocol.topology\"    # heatmap rows and columns (default: first\n"
      "  cols = \"data.alpha\"           #   two axes); other axes make panels\n"
      "  [set]                         # fixed overrides for every run\n"
      "  \"protocol.rounds\" = 40\n"
      "  threads = 1                   # per run; 0 (default) uses every core\n"
      "  [grid]                        # axes: config key -> values\n"
      "  \"protocol.topology\" = [\"ring\", \"full\"]\n"
      "  \"data.alpha\" = [0.1, 1000.0]\n"
      "Each run is its own `murmur run` process with --set per key. Every cell is\n"
      "checked with the same config reader as `murmur run` before anything starts,\n"
      "[robust] rules included: a rule whose precondition (e.g. krum's n >= 2f + 3)\n"
      "cannot hold on a cell's topology refuses the sweep (exit 2), --dry-run too.\n"
      "Runs go to DIR/runs/<cell>-s<seed>/ (config, metrics, log.txt); a run whose\n"
      "directory already holds the same config and metrics up to the last round is\n"
      "skipped, so an interrupted sweep resumes. A failed run is reported and the\n"
      "others go on. At the end: DIR/results.csv, DIR/results.md (final accuracy\n"
      "and min accuracy and traffic as mean ± 95% interval over seeds (Student t),\n"
      "wall time per cell; the CSV also has the standard deviation) and\n"
      "DIR/heatmap.svg. Exit 0: all runs finished; 1: some failed; 2: bad grid.");
  sweep->add_option("grid", options.grid_path, "Grid file (TOML), see above")->required();
  sweep->add_option("--out", options.out_dir,
                    "Output directory (default: runs/<grid file name>)")
      ->type_name("DIR");
  sweep->add_option("--jobs", options.jobs, "Runs at a time (overrides the grid's 'jobs')")
      ->check(CLI::Range(1, 1024));
  sweep->add_flag("--dry-run", options.dry_run,
                  "Validate the grid and list every run and its command; run nothing");
  sweep->add_option("--slurm", options.slurm_script,
                    "Write a Slurm array job script (one task per grid cell, selected by\n"
                    "SLURM_ARRAY_TASK_ID) to FILE instead of running; afterwards this\n"
                    "command without --slurm collects the results")
      ->type_name("FILE");
  return sweep;
}

int SweepCommand(const SweepOptions& options) {
  Result<SweepGrid> grid = ReadSweepGrid(options.grid_path);
  if (!grid.ok()) return Usage(grid.status().message());
  const std::string out_dir =
      options.out_dir.empty()
          ? "runs/" + std::filesystem::path(options.grid_path).stem().string()
          : options.out_dir;
  const int jobs = options.jobs > 0 ? options.jobs : grid->jobs;
  const std::vector<SweepCell> cells = ExpandCells(*grid);
  Result<std::vector<PlannedRun>> planned = PlanRuns(*grid, cells, out_dir);
  if (!planned.ok()) return Usage(planned.status().message());
  const std::vector<PlannedRun>& runs = *planned;
  if (!options.slurm_script.empty()) return WriteSlurmScript(options, cells, runs, out_dir);

  std::vector<RunOutcome> outcomes(runs.size());
  std::vector<size_t> pending;
  std::vector<bool> complete(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    double wall = std::numeric_limits<double>::quiet_NaN();
    complete[i] = IsComplete(runs[i], &wall);
    if (complete[i]) {
      outcomes[i].ok = true;
      outcomes[i].wall_s = wall;
    } else {
      pending.push_back(i);
    }
  }
  std::fprintf(stderr, "murmur sweep: %zu cells x %zu seeds = %zu runs (%zu to run, %d at a time) "
               "into %s/\n",
               cells.size(), std::max<size_t>(grid->seeds.size(), 1), runs.size(),
               pending.size(), jobs, out_dir.c_str());
  if (options.dry_run) {
    for (size_t i = 0; i < runs.size(); ++i) {
      std::string command = "murmur";
      for (const std::string& a : runs[i].args) command += " " + ShellQuote(a);
      std::printf("%s  %s\n", complete[i] ? "done" : "run ", command.c_str());
    }
    return 0;
  }

  if (Status s = CreateOutputDir(out_dir); !s.ok()) return Usage(s.message());
  SweepProgress progress(runs.size(), pending.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    if (complete[i]) progress.Skipped(std::filesystem::path(runs[i].dir).filename().string());
  }
  Execute(runs, pending, jobs, progress, outcomes);
  progress.End();

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  std::vector<std::string> failures;
  for (size_t i = 0; i < runs.size(); ++i) {
    Result<std::vector<EvalRow>> rows = ReadMetricsCsv(runs[i].dir + "/metrics.csv");
    if (rows.ok() && !rows->empty()) outcomes[i].final_row = rows->back();
    if (!outcomes[i].ok) failures.push_back(runs[i].dir);
  }
  std::vector<CellSummary> summaries;
  for (size_t c = 0; c < cells.size(); ++c) {
    std::vector<RunOutcome> seeds;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].cell == c) seeds.push_back(outcomes[i]);
    }
    summaries.push_back(Summarize(seeds));
  }
  const std::string markdown = ResultsMarkdown(*grid, cells, summaries);
  const HeatmapLabels labels{
      .title = "final mean test accuracy (" + std::filesystem::path(options.grid_path).filename().string() + ")",
      .rows = grid->axes[grid->row_axis].key,
      .cols = grid->col_axis ? grid->axes[*grid->col_axis].key : "",
      .missing = "failed"};
  for (const auto& [name, text] :
       {std::pair<std::string, std::string>{"results.csv", ResultsCsv(*grid, cells, summaries)},
        {"results.md", markdown},
        {"heatmap.svg", HeatmapSvg(labels, AccuracyPanels(*grid, cells, summaries))}}) {
    if (Status s = WriteFile(out_dir + "/" + name, text); !s.ok()) {
      std::fprintf(stderr, "murmur sweep: %s\n", s.message().c_str());
      return kExitFailure;
    }
  }
  std::printf("%s\nresults in %s/ (results.csv, results.md, heatmap.svg)\n", markdown.c_str(),
              out_dir.c_str());
  if (!failures.empty()) {
    std::fprintf(stderr, "murmur sweep: %zu of %zu runs failed:\n", failures.size(),
                 runs.size());
    for (const std::string& dir : failures) {
      std::fprintf(stderr, "  %s: %s\n", dir.c_str(), ErrorLine(dir + "/" + kSweepLogFile).c_str());
    }
    return kExitFailure;
  }
  return 0;
}

}  // namespace murmur::cli
