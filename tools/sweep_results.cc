#include "sweep_results.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "seed_stats.h"

namespace murmur::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Number(double v, const char* format = "%.6g") {
  if (!std::isfinite(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

double Mean(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double SampleStd(const std::vector<double>& v) {
  if (v.size() < 2) return kNaN;
  const double m = Mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

// Half width of the 95% interval of the mean; NaN below two seeds.
double HalfWidth95(const std::vector<double>& v) {
  if (v.size() < 2) return kNaN;
  return MeanAnd95(v).half_width;
}

// "mean ± half width" with `format` for both; the mean alone without one.
std::string PlusMinus(double mean, double half_width, const char* format) {
  std::string out = Number(mean, format);
  if (!out.empty() && std::isfinite(half_width)) out += " ± " + Number(half_width, format);
  return out;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string MarkdownCell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

CellSummary Summarize(std::span<const RunOutcome> seeds) {
  std::vector<double> acc, acc_min, bytes, wall;
  for (const RunOutcome& run : seeds) {
    if (!run.ok || !run.final_row) continue;
    acc.push_back(run.final_row->acc_mean);
    acc_min.push_back(run.final_row->acc_min);
    bytes.push_back(static_cast<double>(run.final_row->bytes_sent));
    if (std::isfinite(run.wall_s)) wall.push_back(run.wall_s);
  }
  return CellSummary{.seeds = seeds.size(),
                     .finished = acc.size(),
                     .acc_mean = Mean(acc),
                     .acc_mean_ci95 = HalfWidth95(acc),
                     .acc_mean_std = SampleStd(acc),
                     .acc_min = Mean(acc_min),
                     .acc_min_ci95 = HalfWidth95(acc_min),
                     .bytes_sent = Mean(bytes),
                     .bytes_sent_ci95 = HalfWidth95(bytes),
                     .wall_s = Mean(wall)};
}

std::string ResultsCsv(const SweepGrid& grid, const std::vector<SweepCell>& cells,
                       const std::vector<CellSummary>& summaries) {
  std::string out;
  for (const SweepAxis& axis : grid.axes) out += CsvField(axis.key) + ",";
  out += "seeds,finished,acc_mean,acc_mean_ci95,acc_mean_std,acc_min,acc_min_ci95,bytes_sent,"
         "bytes_sent_ci95,wall_s\n";
  for (size_t i = 0; i < cells.size(); ++i) {
    for (size_t a = 0; a < grid.axes.size(); ++a) {
      out += CsvField(grid.axes[a].labels[cells[i].value_index[a]]) + ",";
    }
    const CellSummary& s = summaries[i];
    out += std::to_string(s.seeds) + "," + std::to_string(s.finished) + "," +
           Number(s.acc_mean) + "," + Number(s.acc_mean_ci95) + "," + Number(s.acc_mean_std) +
           "," + Number(s.acc_min) + "," + Number(s.acc_min_ci95) + "," +
           Number(s.bytes_sent, "%.0f") + "," + Number(s.bytes_sent_ci95, "%.0f") + "," +
           Number(s.wall_s, "%.2f") + "\n";
  }
  return out;
}

std::string ResultsMarkdown(const SweepGrid& grid, const std::vector<SweepCell>& cells,
                            const std::vector<CellSummary>& summaries) {
  std::string out = "|";
  std::string rule = "|";
  for (const SweepAxis& axis : grid.axes) {
    out.append(" ").append(MarkdownCell(axis.key)).append(" |");
    rule += "---|";
  }
  out += " acc_mean (95% CI) | acc_min (95% CI) | MB sent | wall s | seeds |\n" + rule +
         "---:|---:|---:|---:|---:|\n";
  for (size_t i = 0; i < cells.size(); ++i) {
    out += "|";
    for (size_t a = 0; a < grid.axes.size(); ++a) {
      out.append(" ").append(MarkdownCell(grid.axes[a].labels[cells[i].value_index[a]]));
      out.append(" |");
    }
    const CellSummary& s = summaries[i];
    const std::string acc =
        s.finished == 0 ? "failed" : PlusMinus(s.acc_mean, s.acc_mean_ci95, "%.4f");
    out += " " + acc + " | " + PlusMinus(s.acc_min, s.acc_min_ci95, "%.4f") + " | " +
           PlusMinus(s.bytes_sent / 1e6, s.bytes_sent_ci95 / 1e6, "%.2f") + " | " +
           Number(s.wall_s, "%.1f") + " | " +
           std::to_string(s.finished) + "/" + std::to_string(s.seeds) + " |\n";
  }
  return out;
}

std::vector<HeatmapPanel> AccuracyPanels(const SweepGrid& grid,
                                         const std::vector<SweepCell>& cells,
                                         const std::vector<CellSummary>& summaries) {
  const SweepAxis& rows = grid.axes[grid.row_axis];
  // Panels in order of first appearance, keyed by the other axes' values.
  std::map<std::vector<size_t>, size_t> panel_of;
  std::vector<HeatmapPanel> panels;
  for (size_t i = 0; i < cells.size(); ++i) {
    std::vector<size_t> rest;
    std::string title;
    for (size_t a = 0; a < grid.axes.size(); ++a) {
      if (a == grid.row_axis || (grid.col_axis && a == *grid.col_axis)) continue;
      rest.push_back(cells[i].value_index[a]);
      title += (title.empty() ? "" : ", ") + grid.axes[a].key + "=" +
               grid.axes[a].labels[cells[i].value_index[a]];
    }
    auto [it, inserted] = panel_of.emplace(rest, panels.size());
    if (inserted) {
      HeatmapPanel panel{.title = title, .row_labels = rows.labels};
      panel.col_labels = grid.col_axis ? grid.axes[*grid.col_axis].labels
                                       : std::vector<std::string>{"acc_mean"};
      panel.values.assign(panel.row_labels.size(),
                          std::vector<double>(panel.col_labels.size(), kNaN));
      panels.push_back(std::move(panel));
    }
    const size_t r = cells[i].value_index[grid.row_axis];
    const size_t c = grid.col_axis ? cells[i].value_index[*grid.col_axis] : 0;
    panels[it->second].values[r][c] = summaries[i].acc_mean;
  }
  return panels;
}

}  // namespace murmur::cli
