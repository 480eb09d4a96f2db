// The data behind `murmur report`'s plots as JSON, and the self-contained
// HTML page built on it: the groups' table and interactive charts drawn by
// dygraphs (Debian libjs-dygraphs, MIT; https://dygraphs.com), whose
// minified script and stylesheet are read from disk and inlined, so the
// page needs no network.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "murmur/core/status.h"
#include "report_runs.h"

namespace murmur::cli {

// What a plot shows: one metric (MetricNames()) against an axis, with a band.
struct PlotView {
  std::string metric = "acc_mean";
  std::string x = "round";     // round, time or mb
  bool log_x = false;
  bool log_y = false;
  std::string band = "seeds";  // none, seeds (min-max over seeds), ci (95%), peers
};

// The groups' curves (AggregateGroup) and every run's rows:
//   {"metrics": [...], "view": {...},
//    "groups": [{"label", "color", "seeds", "round", "time", "mb",
//                "metrics": {NAME: {"mean", "ci", "min", "max"}}}],
//    "runs": [{"name", "group", "seed", "ended_by" (summary.json's, or ""),
//              "round", "time", "mb",
//              "metrics": {NAME: [...]}}]}
// "ci" is the half width of the 95% interval (0 for one seed); NaN is null.
// Group g's colour is ReportColor(g).
nlohmann::json ReportJson(const std::vector<RunRecord>& runs, const std::vector<RunGroup>& groups,
                          const PlotView& view);

// A colour per group, the same in the page and the figures (tab10, cycled).
std::string ReportColor(size_t group);

// Where the dygraphs files are read from: $MURMUR_DYGRAPHS_DIR, else
// /usr/share/javascript/dygraphs.
std::string DygraphsDir();

// The page: `title`, `table_html` (the groups' table as an HTML <table>),
// and two charts (`data`'s view, and mean accuracy against MB sent on a log
// axis) with controls for metric, x axis, log axes, band and grouping, and
// a button adding more charts. Once every chart is drawn the page's title
// ends in "(ready)"; a script error shows in a red box and the title ends
// in "(error)". kNotFound naming the package libjs-dygraphs when
// dygraph.min.js or dygraph.min.css cannot be read from DygraphsDir().
Result<std::string> ReportHtml(const std::string& title, const std::string& table_html,
                               const nlohmann::json& data);

}  // namespace murmur::cli
