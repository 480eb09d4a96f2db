#include "sweep_command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <limits>
#include <optional>
#include <set>
#include <toml++/toml.h>

#include "child_process.h"
#include "cli_common.h"
#include "murmur/core/config.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/run_config.h"
#include "murmur/robust/factory.h"
#include "svg_plot.h"
#include "sweep_grid.h"
#include "sweep_results.h"
#include "sweep_slurm.h"

namespace murmur::cli {
namespace {

// Written by the sweep into a run directory once its process has exited.
constexpr const char* kRecordFile = "sweep_run.txt";
constexpr const char* kLogFile = "log.txt";

using Clock = std::chrono::steady_clock;

// One `murmur run` process: a cell with one seed.
struct PlannedRun {
  size_t cell = 0;
  uint64_t seed = 0;
  std::string dir;
  std::vector<std::string> args;  // after the program name
  std::string resolved_toml;      // what the run will write as config.toml
  std::string fingerprint;        // what tells it apart from other cells (Fingerprint)
  int64_t rounds = 0;
  int64_t threads = 0;
};

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

int Usage(const std::string& message) {
  std::fprintf(stderr, "murmur sweep: %s\n", message.c_str());
  return kExitUsage;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "exit N" and "wall_s X" lines of a run's record; absent fields stay as given.
void ReadRecord(const std::string& dir, int* exit_code, double* wall_s) {
  std::ifstream in(dir + "/" + kRecordFile);
  std::string key;
  while (in >> key) {
    if (key == "exit") in >> *exit_code;
    else if (key == "wall_s") in >> *wall_s;
  }
}

// A run is finished when its directory holds this cell's exact config, its
// metrics reach the last round (or its summary says it ended early by a
// budget or target), and the sweep did not record a failure (a directory
// written by a plain `murmur run --out` has no record and counts when its
// metrics are complete).
bool IsComplete(const PlannedRun& run, double* wall_s) {
  if (ReadText(run.dir + "/config.toml") != run.resolved_toml) return false;
  Result<std::vector<EvalRow>> rows = ReadMetricsCsv(run.dir + "/metrics.csv");
  if (!rows.ok() || rows->empty()) return false;
  if (rows->back().round < run.rounds && !SummarySaysFinished(run.dir)) return false;
  int exit_code = 0;
  ReadRecord(run.dir, &exit_code, wall_s);
  return exit_code == 0;
}

// The line of a run's log that says why it failed: the last "murmur ..."
// error line, else the last line.
std::string ErrorLine(const std::string& log_path) {
  std::istringstream text(ReadText(log_path));
  std::string line, last, last_error;
  while (std::getline(text, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    last = line;
    if (line.rfind("murmur", 0) == 0) last_error = line;
  }
  return last_error.empty() ? last : last_error;
}

// Starts `murmur run` with stdin from /dev/null and stdout and stderr into
// the run's log. Returns the pid, or -1 with the reason in *error.
pid_t SpawnRun(const PlannedRun& run, std::string* error) {
  std::vector<std::string> argv = {"murmur"};
  argv.insert(argv.end(), run.args.begin(), run.args.end());
  // The running binary itself, so a sweep never mixes murmur versions.
  Result<SpawnedChild> child = Spawn(SpawnOptions{.program = "/proc/self/exe",
                                                  .argv = std::move(argv),
                                                  .log_path = run.dir + "/" + kLogFile,
                                                  .log_mode = SpawnOptions::Log::kTruncate,
                                                  .stdout_to = SpawnOptions::Stdout::kLog,
                                                  .stdin_from_null = true});
  if (!child.ok()) {
    *error = child.status().message();
    return -1;
  }
  return child->pid;
}

// One line redrawn in place on a terminal; plain lines when piped.
class SweepProgress {
 public:
  SweepProgress(size_t total, size_t to_run)
      : total_(total), to_run_(to_run), tty_(isatty(STDERR_FILENO) == 1),
        start_(Clock::now()) {}

  void Skipped(const std::string& name) {
    ++done_;
    Line("skipped " + name + ": already complete");
  }

  void Started(size_t running) {
    running_ = running;
    if (tty_) Draw();
  }

  void Finished(const std::string& name, size_t running, bool ok, const std::string& detail) {
    ++done_;
    ++ran_;
    running_ = running;
    if (!ok) ++failed_;
    if (!ok || !tty_) Line((ok ? "ok " : "FAILED ") + name + " " + detail);
    if (tty_) Draw();
  }

  bool tty() const { return tty_; }

  // Redraws the terminal line about once a second.
  void Tick() {
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::seconds(1)) return;
    Draw();
  }

  void End() {
    if (tty_) std::fprintf(stderr, "\n");
  }

 private:
  // "[done/total] text (running, failed, elapsed, ETA)"
  std::string StatusLine(const std::string& text) const {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    char eta[32] = "?";
    if (ran_ > 0) {
      std::snprintf(eta, sizeof eta, "%.0fs",
                    elapsed / static_cast<double>(ran_) *
                        static_cast<double>(to_run_ - std::min(ran_, to_run_)));
    }
    char buf[128];
    std::snprintf(buf, sizeof buf, "[%zu/%zu] ", done_, total_);
    std::string line = buf + text;
    std::snprintf(buf, sizeof buf, "%s(%zu running, %zu failed, %.0fs elapsed, ETA %s)",
                  text.empty() ? "" : "  ", running_, failed_, elapsed, eta);
    return line + buf;
  }

  void Line(const std::string& text) {
    if (tty_) std::fprintf(stderr, "\r\033[K");
    std::fprintf(stderr, "%s\n", StatusLine(text).c_str());
    std::fflush(stderr);
  }

  void Draw() {
    last_draw_ = Clock::now();
    std::fprintf(stderr, "\r\033[K%s", StatusLine("").c_str());
    std::fflush(stderr);
  }

  const size_t total_, to_run_;
  const bool tty_;
  const Clock::time_point start_;
  Clock::time_point last_draw_;
  size_t done_ = 0, ran_ = 0, running_ = 0, failed_ = 0;
};

// Builds every run and validates its config in-process, exactly as the
// child will read it, so a bad value stops the sweep before anything runs.
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

// Runs `pending` (indices into runs) at most `jobs` at a time. Fills the
// outcomes' ok flag and wall time.
void Execute(const std::vector<PlannedRun>& runs, const std::vector<size_t>& pending,
             int jobs, SweepProgress& progress, std::vector<RunOutcome>& outcomes) {
  struct Active {
    size_t run;
    Clock::time_point start;
  };
  std::map<pid_t, Active> active;
  size_t next = 0;
  while (next < pending.size() || !active.empty()) {
    while (next < pending.size() && active.size() < static_cast<size_t>(jobs)) {
      const PlannedRun& run = runs[pending[next++]];
      std::error_code ec, ignored;
      std::filesystem::create_directories(run.dir, ec);
      std::filesystem::remove(run.dir + "/" + kRecordFile, ignored);
      std::string error;
      const pid_t pid = ec ? -1 : SpawnRun(run, &error);
      if (pid < 0) {
        progress.Finished(std::filesystem::path(run.dir).filename().string(), active.size(),
                          false, "cannot start: " + (ec ? ec.message() : error));
        continue;
      }
      active.emplace(pid, Active{pending[next - 1], Clock::now()});
      progress.Started(active.size());
    }
    if (active.empty()) continue;
    int status = 0;
    pid_t pid;
    // On a terminal, poll so the elapsed time and ETA keep moving.
    while ((pid = waitpid(-1, &status, progress.tty() ? WNOHANG : 0)) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      progress.Tick();
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: nothing left to wait for
    }
    auto it = active.find(pid);
    if (it == active.end()) continue;
    const PlannedRun& run = runs[it->second.run];
    const double wall = std::chrono::duration<double>(Clock::now() - it->second.start).count();
    const int exit_code = ExitCodeOf(status);
    std::ofstream(run.dir + "/" + kRecordFile) << "exit " << exit_code << "\nwall_s " << wall
                                               << "\n";
    RunOutcome& outcome = outcomes[it->second.run];
    outcome.ok = exit_code == 0;
    outcome.wall_s = wall;
    active.erase(it);
    const std::string name = std::filesystem::path(run.dir).filename().string();
    char detail[96];
    std::snprintf(detail, sizeof detail, "%.1fs", wall);
    if (outcome.ok) {
      Result<std::vector<EvalRow>> rows = ReadMetricsCsv(run.dir + "/metrics.csv");
      if (rows.ok() && !rows->empty()) {
        std::snprintf(detail, sizeof detail, "in %.1fs: acc_mean %.4f", wall,
                      rows->back().acc_mean);
      }
      progress.Finished(name, active.size(), true, detail);
    } else {
      progress.Finished(name, active.size(), false,
                        "exit " + std::to_string(exit_code) + " after " + detail + ": " +
                            ErrorLine(run.dir + "/" + kLogFile) + " (log: " + run.dir + "/" +
                            kLogFile + ")");
    }
  }
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
      "checked with the same config reader as `murmur run` before anything starts.\n"
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
      std::fprintf(stderr, "  %s: %s\n", dir.c_str(), ErrorLine(dir + "/" + kLogFile).c_str());
    }
    return kExitFailure;
  }
  return 0;
}

}  // namespace murmur::cli
