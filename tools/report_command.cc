#include "report_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli_common.h"
#include "murmur/experiment/metrics_files.h"
#include "svg_plot.h"

namespace murmur::cli {

CLI::App* AddReportCommand(CLI::App& app, ReportOptions& options) {
  CLI::App* report = app.add_subcommand(
      "report",
      "Compare finished runs: final accuracy, traffic and time as a table, and\n"
      "mean test accuracy against rounds, virtual time or megabytes as an SVG.\n"
      "Example: murmur report runs/quickstart runs/fedavg --svg acc.svg --x mb");
  report->add_option("runs", options.run_dirs, "Run directories written by murmur run --out")
      ->required();
  report->add_option("--svg", options.svg_path, "Write an accuracy plot to this SVG file")
      ->type_name("FILE");
  report->add_option("--x", options.x, "Plot against: round, time (virtual s) or mb (MB sent)")
      ->check(CLI::IsMember({"round", "time", "mb"}));
  return report;
}

int ReportCommand(const ReportOptions& options) {
  std::vector<Series> series;
  std::printf("%-28s %6s %9s %9s %9s %9s %10s %12s\n", "run", "round", "acc_mean", "acc_min",
              "acc_max", "loss", "virtual_s", "MB_sent");
  for (const std::string& dir : options.run_dirs) {
    Result<std::vector<EvalRow>> rows = ReadMetricsCsv(dir + "/metrics.csv");
    if (!rows.ok()) return Fail("report", rows.status(), UsageErrors::kAllButUnavailable);
    std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
    if (name.empty()) name = std::filesystem::path(dir).lexically_normal().parent_path().filename().string();
    Series s{.name = name};
    for (const EvalRow& row : *rows) {
      const double x = options.x == "time" ? row.time_s
                       : options.x == "mb" ? static_cast<double>(row.bytes_sent) / 1e6
                                           : static_cast<double>(row.round);
      s.points.emplace_back(x, row.acc_mean);
    }
    if (rows->empty()) {
      std::printf("%-28s (no rows)\n", name.c_str());
    } else {
      const EvalRow& last = rows->back();
      std::printf("%-28s %6lld %9.4f %9.4f %9.4f %9.4f %10.2f %12.2f\n", name.c_str(),
                  static_cast<long long>(last.round), last.acc_mean, last.acc_min, last.acc_max,
                  last.loss_mean, last.time_s, static_cast<double>(last.bytes_sent) / 1e6);
    }
    series.push_back(std::move(s));
  }
  if (!options.svg_path.empty()) {
    const char* x_label = options.x == "time" ? "virtual time (s)"
                          : options.x == "mb" ? "MB sent (all peers)"
                                              : "round";
    std::ofstream out(options.svg_path);
    out << LinePlotSvg({.title = "mean test accuracy", .x = x_label, .y = "accuracy"}, series);
    if (!out) {
      std::fprintf(stderr, "murmur report: cannot write '%s'\n", options.svg_path.c_str());
      return 1;
    }
    std::printf("plot in %s\n", options.svg_path.c_str());
  }
  return 0;
}

}  // namespace murmur::cli
