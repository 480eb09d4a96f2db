// `murmur report --svg FILE` / `--png FILE`: figures for papers, drawn by
// matplotlib (Debian python3-matplotlib) from python/murmur/report_plot.py,
// which gets the report's JSON (report_html.h) on stdin.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "murmur/core/status.h"

namespace murmur::cli {

// The plotting script: $MURMUR_REPORT_PLOT, else the first that exists of
// python/murmur/report_plot.py beside this executable (the build tree),
// ../lib/python3/dist-packages/murmur/ and ../../lib/... (installed), and the
// source tree's python/murmur/. Empty when none exists.
std::string ReportPlotScript();

// One figure, written to each (path, format) of `outputs` (format "svg" or
// "png"), by one run of $MURMUR_PYTHON (default /usr/bin/python3) on the
// script. kNotFound when the script or matplotlib is missing
// or the data is refused (the script's exit code 2; it names the package),
// kUnavailable when the file cannot be written.
Status WriteFigure(const std::vector<std::pair<std::string, std::string>>& outputs,
                   const nlohmann::json& data);

}  // namespace murmur::cli
