// A run's result files, written by MetricsWriter and read back by
// ReadMetricsCsv (for `murmur report`). An output directory holds:
//   config.toml    the fully resolved configuration
//   metrics.jsonl  one JSON object per evaluation row
//   metrics.csv    the same rows as CSV
// Rows are appended and flushed as they come, so a run that is cut short
// keeps what it measured. Only virtual-time quantities are written, so the
// same seed gives byte-identical files.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "murmur/core/status.h"
#include "murmur/sim/eval_collector.h"

namespace murmur {

class MetricsWriter {
 public:
  // Creates `dir` (and parents) and the three files. kUnavailable when the
  // directory or files cannot be created.
  static Result<MetricsWriter> Open(const std::string& dir,
                                    const std::string& resolved_toml);
  Status Append(const EvalRow& row);

  // One row as the JSON line written to metrics.jsonl (without newline).
  static std::string ToJson(const EvalRow& row);

 private:
  std::ofstream jsonl_;
  std::ofstream csv_;
  std::string dir_;
};

// Reads the rows of a metrics.csv written by MetricsWriter. kNotFound if the
// file is missing; kCorrupt naming the line for a wrong header, a wrong
// number of fields or a field that is not a number.
Result<std::vector<EvalRow>> ReadMetricsCsv(const std::string& path);

}  // namespace murmur
