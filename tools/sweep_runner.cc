#include "sweep_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "child_process.h"
#include "murmur/experiment/metrics_files.h"

namespace murmur::cli {
namespace {

// Written by the sweep into a run directory once its process has exited.
constexpr const char* kRecordFile = "sweep_run.txt";

using Clock = std::chrono::steady_clock;


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

// Starts `murmur run` with stdin from /dev/null and stdout and stderr into
// the run's log. Returns the pid, or -1 with the reason in *error.
pid_t SpawnRun(const PlannedRun& run, std::string* error) {
  std::vector<std::string> argv = {"murmur"};
  argv.insert(argv.end(), run.args.begin(), run.args.end());
  // The running binary itself, so a sweep never mixes murmur versions.
  Result<SpawnedChild> child = Spawn(SpawnOptions{.program = "/proc/self/exe",
                                                  .argv = std::move(argv),
                                                  .log_path = run.dir + "/" + kSweepLogFile,
                                                  .log_mode = SpawnOptions::Log::kTruncate,
                                                  .stdout_to = SpawnOptions::Stdout::kLog,
                                                  .stdin_from_null = true});
  if (!child.ok()) {
    *error = child.status().message();
    return -1;
  }
  return child->pid;
}

}  // namespace

bool IsComplete(const PlannedRun& run, double* wall_s) {
  if (ReadText(run.dir + "/config.toml") != run.resolved_toml) return false;
  Result<std::vector<EvalRow>> rows = ReadMetricsCsv(run.dir + "/metrics.csv");
  if (!rows.ok() || rows->empty()) return false;
  if (rows->back().round < run.rounds && !SummarySaysFinished(run.dir)) return false;
  int exit_code = 0;
  ReadRecord(run.dir, &exit_code, wall_s);
  return exit_code == 0;
}

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

SweepProgress::SweepProgress(size_t total, size_t to_run)
    : total_(total), to_run_(to_run), tty_(isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}

void SweepProgress::Skipped(const std::string& name) {
  ++done_;
  Line("skipped " + name + ": already complete");
}

void SweepProgress::Started(size_t running) {
  running_ = running;
  if (tty_) Draw();
}

void SweepProgress::Finished(const std::string& name, size_t running, bool ok,
                             const std::string& detail) {
  ++done_;
  ++ran_;
  running_ = running;
  if (!ok) ++failed_;
  if (!ok || !tty_) Line((ok ? "ok " : "FAILED ") + name + " " + detail);
  if (tty_) Draw();
}

void SweepProgress::Tick() {
  const auto now = Clock::now();
  if (now - last_draw_ < std::chrono::seconds(1)) return;
  Draw();
}

void SweepProgress::End() {
  if (tty_) std::fprintf(stderr, "\n");
}

std::string SweepProgress::StatusLine(const std::string& text) const {
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

void SweepProgress::Line(const std::string& text) {
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s\n", StatusLine(text).c_str());
  std::fflush(stderr);
}

void SweepProgress::Draw() {
  last_draw_ = Clock::now();
  std::fprintf(stderr, "\r\033[K%s", StatusLine("").c_str());
  std::fflush(stderr);
}

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
                            ErrorLine(run.dir + "/" + kSweepLogFile) + " (log: " + run.dir + "/" +
                            kSweepLogFile + ")");
    }
  }
}

}  // namespace murmur::cli
