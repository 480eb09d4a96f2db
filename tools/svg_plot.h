// Dependency-free SVG heatmaps for `murmur sweep`. (`murmur report` draws
// its charts with dygraphs and matplotlib: report_html.h, report_figure.h.)
#pragma once

#include <string>
#include <vector>

namespace murmur::cli {

// One heatmap panel: values[r][c] for row label r and column label c; NaN
// marks a cell with no value (drawn grey, labelled with `missing`).
struct HeatmapPanel {
  std::string title;  // may be empty (a single panel)
  std::vector<std::string> row_labels;
  std::vector<std::string> col_labels;
  std::vector<std::vector<double>> values;
};

struct HeatmapLabels {
  std::string title;
  std::string rows;           // what the rows are, e.g. "protocol.topology"
  std::string cols;           // what the columns are
  std::string missing = "-";  // text in cells without a value
};

// Panels side by side (at most three per line) sharing one colour scale over
// every finite value, with each value printed in its cell (3 decimals) and a
// colour bar. REQUIRES: every panel's values has row_labels.size() rows of
// col_labels.size() entries.
std::string HeatmapSvg(const HeatmapLabels& labels, const std::vector<HeatmapPanel>& panels);

// `s` with < > & " replaced by their entities: text for SVG and HTML.
std::string MarkupEscape(const std::string& s);

}  // namespace murmur::cli
