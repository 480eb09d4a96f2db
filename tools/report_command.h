// `murmur report`: compares finished runs. Groups the runs that differ only
// in their seed (report_runs.h), prints one line per group with the mean and
// 95% interval over its seeds (report_table.h), and draws the runs as an
// interactive HTML page (report_html.h) and as SVG/PNG figures
// (report_figure.h).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace murmur::cli {

struct ReportOptions {
  std::vector<std::string> run_dirs;
  std::string table = "text";  // text, md or csv
  std::vector<double> at_mb;   // accuracy columns at these MB sent
  std::vector<double> at_time; // ... and at these virtual seconds
  std::string html_path;       // empty: no page
  std::string svg_path;        // empty: no SVG
  std::string png_path;        // empty: no PNG
  std::string title = "murmur report";
  // What the figures and the page's first chart show.
  std::string metric = "acc_mean";
  std::string x = "round";     // round, time or mb
  bool log_x = false;
  bool log_y = false;
  std::string band = "seeds";  // none, seeds, ci or peers
};

CLI::App* AddReportCommand(CLI::App& app, ReportOptions& options);
// Exit code: 0; 2 for a missing or malformed run directory, a missing
// libjs-dygraphs / matplotlib, or an output file that cannot be written.
int ReportCommand(const ReportOptions& options);

}  // namespace murmur::cli
