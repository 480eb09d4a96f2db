// What `murmur sweep` reports once its runs are done: per cell, the final
// evaluation row of every seed reduced to mean and spread, as CSV, as a
// Markdown table and as heatmap panels.
#pragma once

#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "murmur/experiment/eval_collector.h"
#include "svg_plot.h"
#include "sweep_grid.h"

namespace murmur::cli {

// One seed of one cell.
struct RunOutcome {
  bool ok = false;                   // finished: exit 0, or complete on resume
  std::optional<EvalRow> final_row;  // the last row of its metrics.csv
  double wall_s = std::numeric_limits<double>::quiet_NaN();  // unknown
};

// Statistics over the seeds that finished with a final row; NaN where no
// seed did. The spread is the sample standard deviation (n - 1) and the
// *_ci95 fields are the half width of the Student-t 95% interval of the mean
// (seed_stats.h MeanAnd95); both NaN for a single seed.
struct CellSummary {
  size_t seeds = 0;
  size_t finished = 0;
  double acc_mean = 0;       // mean over seeds of the final acc_mean
  double acc_mean_ci95 = 0;  // mean +- this is its 95% interval
  double acc_mean_std = 0;   // its standard deviation over seeds
  double acc_min = 0;        // mean over seeds of the final acc_min
  double acc_min_ci95 = 0;
  double bytes_sent = 0;     // mean over seeds of the final bytes_sent
  double bytes_sent_ci95 = 0;
  double wall_s = 0;         // mean over seeds with a known wall time
};

CellSummary Summarize(std::span<const RunOutcome> seeds);

// One row per cell (in `cells` order): the axis values, then seeds,
// finished, acc_mean, acc_mean_ci95, acc_mean_std, acc_min, acc_min_ci95,
// bytes_sent, bytes_sent_ci95, wall_s. Empty fields for NaN; fields with
// commas or quotes are quoted (RFC 4180).
// REQUIRES: summaries.size() == cells.size().
std::string ResultsCsv(const SweepGrid& grid, const std::vector<SweepCell>& cells,
                       const std::vector<CellSummary>& summaries);
// The same as a Markdown table: accuracy as "mean ± half width of the 95%
// interval" over the finished seeds (the mean alone for one seed), traffic
// in MB, "finished/seeds".
std::string ResultsMarkdown(const SweepGrid& grid, const std::vector<SweepCell>& cells,
                            const std::vector<CellSummary>& summaries);
// Final mean accuracy, grid.row_axis by grid.col_axis, one panel per
// combination of the other axes (titled "key=label, ...").
std::vector<HeatmapPanel> AccuracyPanels(const SweepGrid& grid,
                                         const std::vector<SweepCell>& cells,
                                         const std::vector<CellSummary>& summaries);

}  // namespace murmur::cli
