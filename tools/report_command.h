// `murmur report`: compares finished runs from their metrics.csv files, as a
// table on stdout and an SVG accuracy plot.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace murmur::cli {

struct ReportOptions {
  std::vector<std::string> run_dirs;
  std::string svg_path;    // empty: no plot
  std::string x = "round"; // round, time or mb
};

CLI::App* AddReportCommand(CLI::App& app, ReportOptions& options);
// Exit code: 0, or 2 for a missing or malformed metrics file.
int ReportCommand(const ReportOptions& options);

}  // namespace murmur::cli
