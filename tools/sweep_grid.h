// The grid file of `murmur sweep`: a base config, fixed overrides, and axes
// whose cartesian product (times the seeds) is the set of runs.
//
//   base = "byzantine_dpsgd.toml"   # relative to the grid file; absent: quickstart
//   seeds = [1, 2]                  # absent: the config's own seed
//   jobs = 2                        # runs at a time (default 1)
//   rows = "robust.rule"            # heatmap rows and columns (default: the
//   cols = "byzantine.attack"       #   first two axes in file order)
//   [set]                           # overrides for every run
//   "protocol.rounds" = 40
//   [grid]                          # axes: key -> values
//   "robust.rule" = ["mean", "median"]
//   "data.alpha" = [0.5, 1000.0]
//
// The grid knows nothing about which config keys exist: every key and value
// is handed to `murmur run --set`, and the sweep validates each cell through
// ReadRunConfig before starting anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "murmur/core/status.h"

namespace murmur::cli {

struct SweepAxis {
  std::string key;                  // dotted config key, e.g. "data.alpha"
  std::vector<std::string> values;  // TOML text for --set, e.g. "\"ring\"", "0.5"
  std::vector<std::string> labels;  // for tables and plots, e.g. "ring", "0.5"
};

struct SweepGrid {
  std::string base_path;  // absolute or relative to the cwd; empty: quickstart
  std::vector<uint64_t> seeds;  // empty: one run per cell with the config's seed
  int jobs = 1;
  std::vector<std::pair<std::string, std::string>> set;  // key, TOML value text
  std::vector<SweepAxis> axes;                           // in file order; >= 1
  size_t row_axis = 0;
  std::optional<size_t> col_axis;  // absent when the grid has one axis
};

// One point of the product: which value of every axis.
struct SweepCell {
  std::vector<size_t> value_index;  // one per axis
  // Directory-safe name from the axis values, e.g. "topology-ring_alpha-0.5";
  // stable when axes gain values, so finished runs are found again.
  std::string name;
  // "key=value" arguments for `murmur run --set`: the grid's [set] first,
  // then this cell's axis values.
  std::vector<std::string> assignments;
};

// Parses a grid file's text. `grid_dir` is the directory that a relative
// `base` is resolved against. kInvalidArgument naming the key and the bad
// value for: TOML syntax errors (with line and column), unknown top-level
// keys, a `base` or `rows`/`cols` that is not a string, `rows`/`cols` naming
// no axis or the same one, seeds that are not distinct non-negative
// integers, jobs outside [1, 1024], no [grid], an axis that is not a
// non-empty array, a value that is a table, duplicate values in an axis, a
// key both in [set] and [grid], or two cells with the same name.
Result<SweepGrid> ParseSweepGrid(std::string_view text, std::string_view source_name,
                                 const std::string& grid_dir);
// Reads `path` and parses it with grid_dir = its directory. kNotFound when
// the file cannot be opened.
Result<SweepGrid> ReadSweepGrid(const std::string& path);

// Every cell, the last axis varying fastest.
std::vector<SweepCell> ExpandCells(const SweepGrid& grid);

// Checks that every axis with two or more values changes some run:
// `cell_configs` holds one text per cell of `cells` (ExpandCells(grid)), the
// cell's fully resolved run config. kInvalidArgument naming the first axis
// along which no two cells differ whatever the other axes' values -- a key
// the runs never use (another rule's option), or values that read as equal
// (1 and 1.0).
Status CheckEveryAxisMatters(const SweepGrid& grid, const std::vector<SweepCell>& cells,
                             const std::vector<std::string>& cell_configs);

}  // namespace murmur::cli
