// The table `murmur report` prints: one line per group of runs that differ
// only in their seed, with the mean and 95% interval over the seeds
// (report_runs.h), as aligned text, Markdown or CSV.
#pragma once

#include <string>
#include <vector>

#include "report_runs.h"

namespace murmur::cli {

enum class TableFormat { kText, kMarkdown, kCsv, kHtml };

// Columns: group, seeds, final accuracy (mean +- interval), final accuracy
// of the worst peer, MB sent, virtual seconds, accuracy at each of
// points.mb and points.time_s, and -- when any run's summary.json has a
// target (eval.target_acc) -- time and MB to the target accuracy, mean over
// the seeds that reached it, and "reached": how many of those with a target.
// CSV gives means and half-widths as separate columns, full precision;
// HTML is a <table> for the --html page.
// REQUIRES: summaries[i] belongs to groups[i] and was made with `points`.
std::string FormatTable(TableFormat format, const std::vector<RunGroup>& groups,
                        const std::vector<GroupSummary>& summaries, const ReportPoints& points);

}  // namespace murmur::cli
