// A dependency-free SVG line chart, for `murmur report`.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace murmur::cli {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), NaNs skipped
};

struct PlotLabels {
  std::string title;
  std::string x;
  std::string y;
};

// One chart: axes with round-number ticks, one polyline per series, legend.
std::string LinePlotSvg(const PlotLabels& labels, const std::vector<Series>& series);

}  // namespace murmur::cli
