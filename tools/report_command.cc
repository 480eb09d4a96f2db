#include "report_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <set>
#include <fstream>

#include "cli_common.h"
#include "report_figure.h"
#include "report_html.h"
#include "report_runs.h"
#include "report_table.h"

namespace murmur::cli {

CLI::App* AddReportCommand(CLI::App& app, ReportOptions& options) {
  CLI::App* report = app.add_subcommand(
      "report",
      "Compare finished runs: a table with runs that differ only in their seed\n"
      "grouped (mean and 95% interval), an interactive HTML page, SVG/PNG figures.\n"
      "Example: murmur report runs/a-s1 runs/a-s2 runs/b-s1 runs/b-s2 --html r.html");
  report->footer(
      "Groups: runs whose recorded config.toml differs only in `seed` (and `threads`)\n"
      "form one group, named after the runs with the seed replaced by '*' (a-s*).\n"
      "Figures are the mean over the group's seeds +- the half width of the 95%\n"
      "interval (Student's t). Columns: final accuracy, the worst peer's final\n"
      "accuracy, MB sent, virtual seconds, one per --at-mb / --at-time, and time and\n"
      "MB to eval.target_acc when summary.json records them.\n"
      "--at-mb X / --at-time S: each run's mean accuracy at its last evaluation at\n"
      "or before X MB sent (all peers) / S virtual seconds -- the runs compared at\n"
      "equal traffic or equal time; a run that ended earlier counts with its final\n"
      "evaluation. The page (--html) inlines dygraphs (Debian libjs-dygraphs) and\n"
      "needs no network; --svg/--png run python3 with matplotlib\n"
      "(python3-matplotlib) on python/murmur/report_plot.py.");
  report->add_option("runs", options.run_dirs, "Run directories written by murmur run --out")
      ->required();
  report->add_option("--table", options.table, "Table format on stdout: text, md or csv")
      ->check(CLI::IsMember({"text", "md", "csv"}));
  report->add_option("--at-mb", options.at_mb,
                     "Add a column: accuracy at the last evaluation at or before X MB sent "
                     "(repeatable)")
      ->type_name("X")
      ->check(CLI::NonNegativeNumber);
  report->add_option("--at-time", options.at_time,
                     "Add a column: accuracy at the last evaluation at or before S virtual "
                     "seconds (repeatable)")
      ->type_name("S")
      ->check(CLI::NonNegativeNumber);
  report->add_option("--html", options.html_path,
                     "Write a self-contained page: the table and interactive charts")
      ->type_name("FILE");
  report->add_option("--svg", options.svg_path, "Write a figure as SVG (matplotlib)")
      ->type_name("FILE");
  report->add_option("--png", options.png_path, "Write a figure as PNG (matplotlib)")
      ->type_name("FILE");
  report->add_option("--title", options.title, "Title of the page and the figures");
  report->add_option("--metric", options.metric, "Metric to plot: a metrics.csv column (traffic in MB)")
      ->check(CLI::IsMember(MetricNames()));
  report->add_option("--x", options.x, "Plot against: round, time (virtual s) or mb (MB sent)")
      ->check(CLI::IsMember({"round", "time", "mb"}));
  report->add_flag("--log-x", options.log_x, "Logarithmic x axis (drops x <= 0)");
  report->add_flag("--log-y", options.log_y, "Logarithmic y axis (drops y <= 0)");
  report->add_option("--band", options.band,
                     "Band around each group's mean: none, seeds (min-max over seeds), "
                     "ci (95% interval), peers (worst to best peer accuracy)")
      ->check(CLI::IsMember({"none", "seeds", "ci", "peers"}));
  return report;
}

namespace {

int WriteText(const std::string& path, const std::string& text, const char* what) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    std::fprintf(stderr, "murmur report: cannot write '%s' (does its folder exist?)\n",
                 path.c_str());
    return kExitUsage;
  }
  std::printf("%s in %s\n", what, path.c_str());
  return 0;
}

int WriteFigures(const ReportOptions& options, const nlohmann::json& data) {
  std::vector<std::pair<std::string, std::string>> outputs;
  if (!options.svg_path.empty()) outputs.emplace_back(options.svg_path, "svg");
  if (!options.png_path.empty()) outputs.emplace_back(options.png_path, "png");
  if (outputs.empty()) return 0;
  if (Status s = WriteFigure(outputs, data); !s.ok()) {
    Fail("report", s);
    return kExitUsage;  // a missing package or an unwritable path: the user's to fix
  }
  for (const auto& [path, format] : outputs) std::printf("figure in %s\n", path.c_str());
  return 0;
}

}  // namespace

int ReportCommand(const ReportOptions& options) {
  std::vector<RunRecord> runs;
  std::set<std::string> seen;
  for (const std::string& dir : options.run_dirs) {
    std::error_code ec;
    const std::string canonical = std::filesystem::weakly_canonical(dir, ec).string();
    if (!seen.insert(ec ? dir : canonical).second) {
      std::fprintf(stderr, "murmur report: run directory '%s' is given twice\n", dir.c_str());
      return kExitUsage;
    }
    Result<RunRecord> run = LoadRun(dir);
    if (!run.ok()) return Fail("report", run.status(), UsageErrors::kAllButUnavailable);
    runs.push_back(std::move(*run));
  }
  RelativeRunNames(runs);
  const std::vector<RunGroup> groups = GroupBySeed(runs);
  const ReportPoints points{.mb = options.at_mb, .time_s = options.at_time};
  std::vector<GroupSummary> summaries;
  for (const RunGroup& g : groups) summaries.push_back(SummarizeGroup(runs, g, points));
  const TableFormat format = options.table == "md"    ? TableFormat::kMarkdown
                             : options.table == "csv" ? TableFormat::kCsv
                                                      : TableFormat::kText;
  std::fputs(FormatTable(format, groups, summaries, points).c_str(), stdout);
  for (const RunRecord& run : runs) {
    if (run.rows.empty()) std::printf("note: %s has no evaluation rows\n", run.name.c_str());
  }
  for (const RunGroup& g : groups) {
    std::set<uint64_t> seeds;
    for (size_t i : g.runs) {
      if (runs[i].has_config && !seeds.insert(runs[i].seed).second) {
        std::printf("note: %s has two runs with seed %llu (the same run twice?)\n",
                    g.label.c_str(), static_cast<unsigned long long>(runs[i].seed));
      }
    }
  }
  if (options.html_path.empty() && options.svg_path.empty() && options.png_path.empty()) {
    return 0;
  }
  const PlotView view{.metric = options.metric,
                      .x = options.x,
                      .log_x = options.log_x,
                      .log_y = options.log_y,
                      .band = options.band};
  nlohmann::json data = ReportJson(runs, groups, view);
  data["title"] = options.title;
  if (!options.html_path.empty()) {
    Result<std::string> page = ReportHtml(
        options.title, FormatTable(TableFormat::kHtml, groups, summaries, points), data);
    if (!page.ok()) return Fail("report", page.status(), UsageErrors::kAllButUnavailable);
    if (int rc = WriteText(options.html_path, *page, "page"); rc != 0) return rc;
  }
  return WriteFigures(options, data);
}

}  // namespace murmur::cli
