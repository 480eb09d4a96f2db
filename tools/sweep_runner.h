// Running a sweep's `murmur run` processes: the planned runs, which of them
// a previous sweep already completed, at most `jobs` child processes at a
// time, and the progress line on stderr. sweep_command.cc plans the runs and
// writes the results; this file only starts, waits for and records them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sweep_results.h"

namespace murmur::cli {

// The log of one run inside its directory (stdout and stderr of the child).
inline constexpr const char* kSweepLogFile = "log.txt";

// One `murmur run` process: a cell with one seed.
struct PlannedRun {
  size_t cell = 0;
  uint64_t seed = 0;
  std::string dir;
  std::vector<std::string> args;  // after the program name
  std::string resolved_toml;      // what the run will write as config.toml
  std::string fingerprint;        // what tells it apart from other cells
  int64_t rounds = 0;
  int64_t threads = 0;
};

// A run is finished when its directory holds this cell's exact config, its
// metrics reach the last round (or its summary says it ended early by a
// budget or target), and the sweep did not record a failure (a directory
// written by a plain `murmur run --out` has no record and counts when its
// metrics are complete). Sets *wall_s from the sweep's record when present.
bool IsComplete(const PlannedRun& run, double* wall_s);

// The line of a run's log that says why it failed: the last "murmur ..."
// error line, else the last line.
std::string ErrorLine(const std::string& log_path);

// One line redrawn in place on a terminal; plain lines when piped.
class SweepProgress {
 public:
  SweepProgress(size_t total, size_t to_run);

  void Skipped(const std::string& name);
  void Started(size_t running);
  void Finished(const std::string& name, size_t running, bool ok, const std::string& detail);
  bool tty() const { return tty_; }
  // Redraws the terminal line about once a second.
  void Tick();
  void End();

 private:
  using Clock = std::chrono::steady_clock;
  // "[done/total] text (running, failed, elapsed, ETA)"
  std::string StatusLine(const std::string& text) const;
  void Line(const std::string& text);
  void Draw();

  const size_t total_, to_run_;
  const bool tty_;
  const Clock::time_point start_;
  Clock::time_point last_draw_;
  size_t done_ = 0, ran_ = 0, running_ = 0, failed_ = 0;
};

// Runs `pending` (indices into runs) at most `jobs` at a time. Fills the
// outcomes' ok flag and wall time, and writes each run's record.
void Execute(const std::vector<PlannedRun>& runs, const std::vector<size_t>& pending,
             int jobs, SweepProgress& progress, std::vector<RunOutcome>& outcomes);

}  // namespace murmur::cli
