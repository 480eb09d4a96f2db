#include "run_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "cli_common.h"
#include "murmur/experiment/sim_run.h"
#include "murmur/experiment/metrics_files.h"
#include "murmur/experiment/run_config.h"
#include "run_resume.h"

namespace murmur::cli {
namespace {

// Draws a progress bar on a terminal and plain lines otherwise.
class Progress {
 public:
  Progress(int64_t total_rounds, bool quiet)
      : total_(std::max<int64_t>(total_rounds, 1)),
        tty_(isatty(STDERR_FILENO) == 1),
        quiet_(quiet),
        start_(std::chrono::steady_clock::now()) {}

  // On a terminal: redraws the bar at every round.
  void Round(int64_t round) {
    if (quiet_ || !tty_) return;
    round_ = round;
    Draw();
  }

  // At every evaluation row: the bar's accuracy, or a plain line when piped.
  void Row(const EvalRow& row) {
    if (quiet_) return;
    if (tty_) {
      acc_ = row.acc_mean;
      loss_ = row.loss_mean;
      round_ = std::max(round_, row.round);
      Draw();
      if (row.round >= total_) std::fprintf(stderr, "\n");
    } else {
      const double elapsed = Elapsed();
      const double frac = std::min(1.0, static_cast<double>(row.round) / total_);
      const double eta = frac > 0 ? elapsed / frac - elapsed : 0;
      std::fprintf(stderr, "round %lld/%lld acc_mean=%.4f loss_mean=%.4f elapsed=%.1fs eta=%.1fs\n",
                   static_cast<long long>(row.round), static_cast<long long>(total_),
                   row.acc_mean, row.loss_mean, elapsed, eta);
    }
    std::fflush(stderr);
  }

 private:
  void Draw() {
    constexpr int kWidth = 30;
    const double elapsed = Elapsed();
    const double frac = std::min(1.0, static_cast<double>(round_) / total_);
    const double eta = frac > 0 ? elapsed / frac - elapsed : 0;
    const int filled = static_cast<int>(frac * kWidth);
    std::fprintf(stderr, "\r[%s%s] round %lld/%lld  acc %.4f  loss %.4f  %5.1fs  ETA %5.1fs ",
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, ' ').c_str(),
                 static_cast<long long>(round_), static_cast<long long>(total_), acc_, loss_,
                 elapsed, eta);
    std::fflush(stderr);
  }

  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  const int64_t total_;
  const bool tty_;
  const bool quiet_;
  const std::chrono::steady_clock::time_point start_;
  int64_t round_ = 0;
  double acc_ = 0;
  double loss_ = 0;
};

// Traffic of the whole run and what it bought: accuracy per megabyte sent
// (serialized messages, headers included).
void PrintTraffic(const EvalRow& last) {
  const double mb_sent = static_cast<double>(last.bytes_sent) / 1e6;
  std::printf("traffic: %.2f MB sent, %.2f MB received, busiest peer %.2f MB; "
              "accuracy per MB sent %.6g\n",
              mb_sent, static_cast<double>(last.bytes_received) / 1e6,
              static_cast<double>(last.max_peer_bytes) / 1e6, AccuracyPerMb(last));
  if (last.bytes_up && last.bytes_down) {
    std::printf("uplink (to the server) %.2f MB, downlink (from it) %.2f MB\n",
                static_cast<double>(*last.bytes_up) / 1e6,
                static_cast<double>(*last.bytes_down) / 1e6);
  }
  for (const auto& [name, bytes] : last.stage_bytes) {
    std::printf("%s: %.2f MB\n", name.c_str(), static_cast<double>(bytes) / 1e6);
  }
}

// Why the run ended, when it was not by its rounds, and when it reached
// its target accuracy.
void PrintEnding(const RunConfig& config, const RunSummary& summary) {
  if (summary.ended_by == RunEnd::kTimeBudget) {
    std::printf("ended by sim.budget_time_s = %g s at the end of the round in progress\n",
                config.sim.budget.time_s);
  } else if (summary.ended_by == RunEnd::kByteBudget) {
    std::printf("ended by sim.budget_bytes = %llu at the end of the round in progress\n",
                static_cast<unsigned long long>(config.sim.budget.bytes));
  }
  if (!config.eval.target_acc) return;
  if (const std::optional<TargetReached>& t = summary.target_reached) {
    std::printf("eval.target_acc = %g reached at round %lld, virtual time %.2fs, %.2f MB sent\n",
                *config.eval.target_acc, static_cast<long long>(t->round), t->time_s,
                static_cast<double>(t->bytes_sent) / 1e6);
  } else {
    std::printf("eval.target_acc = %g not reached\n", *config.eval.target_acc);
  }
}

void PrintSummary(const RunConfig& config, const RunSummary& summary) {
  std::printf("\n%6s %10s %9s %9s %9s %9s %10s %12s\n", "round", "time_s", "acc_mean",
              "acc_min", "acc_max", "loss", "consensus", "MB_sent");
  for (const EvalRow& row : summary.rows) {
    std::printf("%6lld %10.2f %9.4f %9.4f %9.4f %9.4f %10.4f %12.2f\n",
                static_cast<long long>(row.round), row.time_s, row.acc_mean, row.acc_min,
                row.acc_max, row.loss_mean, row.consensus_dist,
                static_cast<double>(row.bytes_sent) / 1e6);
  }
  const SimStats& s = summary.stats;
  std::printf("\n%lld nodes, %lld parameters, %lld compute threads\n",
              static_cast<long long>(summary.num_nodes),
              static_cast<long long>(summary.num_params),
              static_cast<long long>(summary.threads));
  std::printf("virtual time %.2fs, %llu messages (%llu lost, %llu to/from offline peers), "
              "%.2f MB sent, %llu rejected by peers\n",
              s.now.seconds(), static_cast<unsigned long long>(s.msgs_sent),
              static_cast<unsigned long long>(s.msgs_lost),
              static_cast<unsigned long long>(s.msgs_offline),
              static_cast<double>(s.bytes_sent) / 1e6,
              static_cast<unsigned long long>(s.bad_peer_reports));
  std::printf("wall time %.1fs (setup %.1fs), %llu events, %llu compute tasks in %llu batches, "
              "%llu parallel event windows\n",
              summary.wall_s, summary.setup_wall_s, static_cast<unsigned long long>(s.events),
              static_cast<unsigned long long>(s.compute_tasks),
              static_cast<unsigned long long>(s.compute_batches),
              static_cast<unsigned long long>(s.parallel_windows));
  for (const auto& [name, count] : summary.counters) {
    std::printf("%s: %lld\n", name.c_str(), static_cast<long long>(count));
  }
  if (!summary.rows.empty()) {
    const EvalRow& last = summary.rows.back();
    std::printf("final: round %lld, mean test accuracy %.4f (min %.4f, max %.4f)\n",
                static_cast<long long>(last.round), last.acc_mean, last.acc_min,
                last.acc_max);
    PrintTraffic(last);
  }
  PrintEnding(config, summary);
}

const CLI::Validator kNonNegative(
    [](std::string& value) -> std::string {
      return !value.empty() && value.find_first_not_of("0123456789") == std::string::npos
                 ? std::string()
                 : "must be a non-negative integer, got '" + value + "'";
    },
    "N>=0");

int Fail(const Status& status) { return cli::Fail("run", status); }

// `value` as a TOML basic string, so --set takes a path such as 2024 or
// true as the string it is.
std::string TomlString(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

CLI::App* AddRunCommand(CLI::App& app, RunOptions& options) {
  CLI::App* run = app.add_subcommand(
      "run",
      "Run one simulated decentralized training run.\n"
      "With no CONFIG, runs the built-in quickstart: 16 peers, D-PSGD on a ring,\n"
      "an MLP on IID Fashion-MNIST. See examples/ for configs and docs/config.md\n"
      "for every key.");
  run->add_option("config", options.config_path, "TOML config file (see examples/)");
  run->add_option("--set", options.sets,
                  "Override a config key, e.g. --set protocol.rounds=10 "
                  "--set protocol.topology=torus (repeatable)")
      ->type_name("KEY=VALUE");
  run->add_option("--seed", options.seed, "Run seed (overrides the config's 'seed')")
      ->check(kNonNegative);
  run->add_option("--threads", options.threads,
                  "Compute threads (0: one per core); results do not depend on it")
      ->check(kNonNegative);
  run->add_option("--out", options.out_dir,
                  "Write config.toml, metrics.jsonl, metrics.csv, peers.csv and summary.json into DIR")
      ->type_name("DIR");
  run->add_option("--export-model", options.export_model,
                  "Write the mean of the peers' final models as a TorchScript file that\n"
                  "torch.jit.load reads (model.kind = \"torchscript\" only); the same as\n"
                  "train.export_model: a relative PATH goes under --out, and an existing\n"
                  "file is refused unless train.overwrite_checkpoint = true")
      ->type_name("PATH");
  run->add_option("--snapshot-every", options.snapshot_every,
                  "Write DIR/snapshot.bin every S virtual seconds (sim.snapshot_every_s),\n"
                  "so that --resume DIR can continue the run after it is killed")
      ->type_name("S")
      ->check(CLI::PositiveNumber);
  run->add_option("--resume", options.resume_dir,
                  "Continue the interrupted run in DIR from its latest snapshot; the files\n"
                  "come out byte-identical to an uninterrupted run. CONFIG defaults to\n"
                  "DIR/config.toml; --out, if given, must be DIR")
      ->type_name("DIR");
  run->add_flag("--quiet", options.quiet, "No progress output");
  return run;
}

namespace {

// The run's config: CONFIG (or, resuming, DIR/config.toml) with the flags.
Result<RunConfig> LoadRunCommandConfig(const RunOptions& options, const std::string& out_dir) {
  std::vector<std::string> sets = options.sets;
  if (options.seed >= 0) sets.push_back("seed=" + std::to_string(options.seed));
  if (options.threads >= 0) sets.push_back("threads=" + std::to_string(options.threads));
  if (!options.export_model.empty()) {
    sets.push_back("train.export_model=" + TomlString(options.export_model));
  }
  if (options.snapshot_every > 0) {
    sets.push_back("sim.snapshot_every_s=" + std::to_string(options.snapshot_every));
  }
  const std::string path = !options.config_path.empty() || options.resume_dir.empty()
                               ? options.config_path
                               : options.resume_dir + "/config.toml";
  MURMUR_ASSIGN_OR_RETURN(RunConfig config, LoadRunConfig(path, sets));
  ResolveRunPaths(config, out_dir);
  return config;
}

// Opens the output files: fresh ones, or the interrupted run's, cut back to
// its snapshot (`snapshots.resume` then points into `resumed`).
Status OpenOutput(const RunOptions& options, const std::string& out_dir, const RunConfig& config,
                  std::optional<MetricsWriter>& writer, std::optional<ResumedRun>& resumed,
                  RunSnapshots& snapshots) {
  if (out_dir.empty()) {
    if (config.snapshot_every_s > 0) {
      return Status::InvalidArgument("sim.snapshot_every_s needs --out DIR to write snapshots in");
    }
    return Status::Ok();
  }
  MURMUR_ASSIGN_OR_RETURN(const uint64_t hash, RunConfigHash(config.resolved_toml));
  snapshots = RunSnapshots{.dir = out_dir,
                           .every_s = config.snapshot_every_s,
                           .config_hash = hash,
                           .metrics_bytes = [&writer] { return writer->lengths(); }};
  if (!options.resume_dir.empty()) {
    MURMUR_ASSIGN_OR_RETURN(ResumedRun opened, OpenResumedRun(out_dir, hash));
    resumed.emplace(std::move(opened));
    writer.emplace(std::move(resumed->writer));
    snapshots.resume = &resumed->snapshot;
    return Status::Ok();
  }
  MURMUR_RETURN_IF_ERROR(CreateOutputDir(out_dir));
  // A snapshot of an earlier run in this directory no longer matches its files.
  std::error_code ec;
  std::filesystem::remove(out_dir + "/" + kSnapshotFileName, ec);
  MURMUR_ASSIGN_OR_RETURN(MetricsWriter opened, MetricsWriter::Open(out_dir, config.resolved_toml));
  writer.emplace(std::move(opened));
  return Status::Ok();
}

}  // namespace

int RunCommand(const RunOptions& options) {
  if (!options.resume_dir.empty() && !options.out_dir.empty() &&
      std::filesystem::path(options.out_dir) != std::filesystem::path(options.resume_dir)) {
    return Fail(Status::InvalidArgument("--out '", options.out_dir, "' and --resume '",
                                        options.resume_dir,
                                        "' differ: a resumed run continues in its own directory"));
  }
  const std::string out_dir = options.resume_dir.empty() ? options.out_dir : options.resume_dir;
  Result<RunConfig> run_config = LoadRunCommandConfig(options, out_dir);
  if (!run_config.ok()) return Fail(run_config.status());

  std::optional<MetricsWriter> writer;
  std::optional<ResumedRun> resumed;
  RunSnapshots snapshots;
  if (Status s = OpenOutput(options, out_dir, *run_config, writer, resumed, snapshots); !s.ok()) {
    // A snapshot or metrics file that does not fit is the user's to fix: exit 2.
    return cli::Fail("run", s, UsageErrors::kAllButUnavailable);
  }
  Progress progress(run_config->protocol.rounds, options.quiet);
  Status write_status;
  RunObserver observer{.on_row =
                           [&](const EvalRow& row) {
                             progress.Row(row);
                             if (writer && write_status.ok()) write_status = writer->Append(row);
                           },
                       .on_round = [&](int64_t round) { progress.Round(round); }};
  Result<RunSummary> summary = RunExperiment(*run_config, observer, snapshots);
  if (!summary.ok()) {
    return cli::Fail("run", summary.status(),
                     snapshots.resume != nullptr ? UsageErrors::kAllButUnavailable
                                                 : UsageErrors::kBadConfigOrMissing);
  }
  if (!write_status.ok()) return Fail(write_status);
  if (writer) {
    if (Status s = WritePeerTraffic(out_dir, summary->roles, summary->stats.peers);
        !s.ok()) {
      return Fail(s);
    }
    if (!summary->rows.empty()) {
      const RunTotals totals = TotalsOf(*run_config, *summary);
      if (Status s = WriteRunSummary(out_dir, summary->rows.back(), totals); !s.ok()) {
        return Fail(s);
      }
    }
  }
  if (!options.quiet) PrintSummary(*run_config, *summary);
  if (writer) std::printf("results in %s/\n", out_dir.c_str());
  if (auto it = summary->counters.find("fedavg.empty_rounds");
      it != summary->counters.end() && it->second > 0) {
    std::fprintf(stderr,
                 "murmur run: warning: %lld FedAvg rounds closed before any client replied; "
                 "raise protocol.round_timeout_s above the clients' training time\n",
                 static_cast<long long>(it->second));
  }
  const int64_t reached = summary->rows.empty() ? -1 : summary->rows.back().round;
  if (summary->ended_by == RunEnd::kIncomplete) {
    std::fprintf(stderr, "murmur run: stopped at round %lld of %lld: %s\n",
                 static_cast<long long>(std::max<int64_t>(reached, 0)),
                 static_cast<long long>(run_config->protocol.rounds),
                 summary->stats.hit_time_limit
                     ? "virtual time reached sim.max_time_s; raise it"
                     : "no events were left, so some peer waited forever; check "
                       "protocol.round_timeout_s");
    return kExitFailure;
  }
  if (summary->rows.back().peers_evaluated < summary->evaluated_peers) {
    std::fprintf(stderr, "murmur run: only %lld of %lld evaluated peers reached the last round\n",
                 static_cast<long long>(summary->rows.back().peers_evaluated),
                 static_cast<long long>(summary->evaluated_peers));
    return kExitFailure;
  }
  return 0;
}

}  // namespace murmur::cli
