// The murmur command: decentralized and federated learning, simulated or
// real. Each subcommand lives in its own file.
#include <CLI/CLI.hpp>
#include <filesystem>

#include "aggregate_command.h"
#include "bench_command.h"
#include "cli_common.h"
#include "child_process.h"
#include "keygen_command.h"
#include "launch_command.h"
#include "peer_command.h"
#include "privacy_command.h"
#include "report_command.h"
#include "run_command.h"
#include "sweep_command.h"

int main(int argc, char** argv) {
  murmur::cli::DieWithParentIfAsked();
  CLI::App app(
      "murmur: train models across many peers without a trusted center.\n"
      "Start with:  murmur run            (built-in quickstart)\n"
      "             murmur run examples/fedavg.toml --out runs/fedavg\n"
      "             murmur report runs/quickstart runs/fedavg --svg acc.svg\n"
      "             murmur sweep examples/sweep_quick.toml\n"
      "             murmur aggregate --rule median g0.npy g1.npy g2.npy");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("murmur ") + MURMUR_VERSION,
                       "Print the version (CMake's project(VERSION)) and exit");
  murmur::cli::RunOptions run_options;
  CLI::App* run = murmur::cli::AddRunCommand(app, run_options);
  murmur::cli::ReportOptions report_options;
  CLI::App* report = murmur::cli::AddReportCommand(app, report_options);
  murmur::cli::SweepOptions sweep_options;
  CLI::App* sweep = murmur::cli::AddSweepCommand(app, sweep_options);
  murmur::cli::AggregateOptions aggregate_options;
  CLI::App* aggregate = murmur::cli::AddAggregateCommand(app, aggregate_options);
  murmur::cli::PeerOptions peer_options;
  CLI::App* peer = murmur::cli::AddPeerCommand(app, peer_options);
  murmur::cli::LaunchOptions launch_options;
  CLI::App* launch = murmur::cli::AddLaunchCommand(app, launch_options);
  murmur::cli::PrivacyOptions privacy_options;
  CLI::App* privacy = murmur::cli::AddPrivacyCommand(app, privacy_options);
  murmur::cli::KeygenOptions keygen_options;
  CLI::App* keygen = murmur::cli::AddKeygenCommand(app, keygen_options);
  murmur::cli::IdOptions id_options;
  CLI::App* id = murmur::cli::AddIdCommand(app, id_options);
  murmur::cli::BenchOptions bench_options;
  CLI::App* bench = murmur::cli::AddBenchCommand(app, bench_options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return murmur::cli::ExitForParseError(app, e, argc, argv);
  }
  if (run->parsed()) return murmur::cli::RunCommand(run_options);
  if (report->parsed()) return murmur::cli::ReportCommand(report_options);
  if (sweep->parsed()) return murmur::cli::SweepCommand(sweep_options);
  if (aggregate->parsed()) return murmur::cli::AggregateCommand(aggregate_options);
  if (peer->parsed()) return murmur::cli::PeerCommand(peer_options);
  if (privacy->parsed()) return murmur::cli::PrivacyCommand(privacy_options);
  if (keygen->parsed()) return murmur::cli::KeygenCommand(keygen_options);
  if (id->parsed()) return murmur::cli::IdCommand(id_options);
  std::error_code ec;
  const auto self_exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string self = ec ? std::string(argv[0]) : self_exe.string();
  if (launch->parsed()) return murmur::cli::LaunchCommand(launch_options, self);
  if (bench->parsed()) return murmur::cli::BenchCommand(bench_options, self);
  return 2;
}
