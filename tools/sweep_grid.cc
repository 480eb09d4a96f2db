#include "sweep_grid.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace murmur::cli {
namespace {

constexpr int kMaxJobs = 1024;

struct Leaf {
  std::string key;
  const toml::node* node;
};

// Flattens nested tables (`data.alpha = ...` without quotes parses as a
// table `data` holding `alpha`) into dotted keys, in file order: toml++
// keeps keys sorted, and "the first two axes" must mean the file's.
void Flatten(const toml::table& table, const std::string& prefix, std::vector<Leaf>& out) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix + std::string(k.str());
    if (const toml::table* sub = node.as_table()) {
      Flatten(*sub, key + ".", out);
    } else {
      out.push_back({key, &node});
    }
  }
}

std::vector<Leaf> FlattenInFileOrder(const toml::table& table) {
  std::vector<Leaf> leaves;
  Flatten(table, "", leaves);
  std::stable_sort(leaves.begin(), leaves.end(), [](const Leaf& a, const Leaf& b) {
    const auto& x = a.node->source().begin;
    const auto& y = b.node->source().begin;
    return std::pair(x.line, x.column) < std::pair(y.line, y.column);
  });
  return leaves;
}

bool ContainsTable(const toml::node& node) {
  if (node.is_table()) return true;
  if (const toml::array* array = node.as_array()) {
    for (const toml::node& element : *array) {
      if (ContainsTable(element)) return true;
    }
  }
  return false;
}

// The value as TOML text, which `Config::Set` parses back to the same value.
// Floats are written in their shortest round-trip form (0.1, not toml++'s
// 0.10000000000000001), keeping a '.' so they stay floats; these texts also
// name run directories and label tables.
std::string TomlText(const toml::node& node) {
  if (const auto* f = node.as_floating_point()) {
    const double v = f->get();
    if (!std::isfinite(v)) return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
    // As Python's repr: fixed notation for exponents in [-4, 16), so
    // 1000000.0 stays 1000000.0 and 1e-06 stays 1e-06.
    char buf[64];
    auto [sci_end, sci_ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string sci(buf, sci_end);
    const int exponent = std::stoi(sci.substr(sci.find('e') + 1));
    if (exponent < -4 || exponent >= 16) return sci;
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    std::string text(buf, end);
    if (text.find('.') == std::string::npos) text += ".0";
    return text;
  }
  if (const auto* array = node.as_array()) {
    std::string text = "[";
    for (size_t i = 0; i < array->size(); ++i) {
      if (i > 0) text += ", ";
      text += TomlText(*array->get(i));
    }
    return text + "]";
  }
  if (const auto* str = node.as_string()) {
    std::string text = "\"";
    for (char c : str->get()) {
      if (c == '"' || c == '\\') {
        text += '\\';
        text += c;
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        text += buf;
      } else {
        text += c;
      }
    }
    return text + "\"";
  }
  std::ostringstream out;
  node.visit([&](auto&& n) { out << n; });
  return out.str();
}

std::string Label(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  return TomlText(node);
}

// Keeps letters, digits and . + -; collapses everything else to one '_'.
std::string DirectorySafe(const std::string& label) {
  std::string out;
  for (char c : label) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '+' ||
                      c == '-';
    if (keep) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "_" : out;
}

Status CheckKey(const std::string& key, std::string_view section) {
  if (key.empty() || key.find_first_of("= \t\n\"'") != std::string::npos) {
    return Status::InvalidArgument("grid [", section, "]: '", key,
                                   "' is not a dotted config key such as \"data.alpha\"");
  }
  return Status::Ok();
}

Result<std::optional<size_t>> AxisNamed(const toml::table& doc, const char* field,
                                        const std::vector<SweepAxis>& axes) {
  const toml::node* node = doc.get(field);
  if (node == nullptr) return std::optional<size_t>();
  if (!node->is_string()) {
    return Status::InvalidArgument("grid key '", field, "' = ", TomlText(*node),
                                   " must be a string naming a [grid] axis");
  }
  const std::string& key = node->as_string()->get();
  std::string known;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i].key == key) return std::optional<size_t>(i);
    known += (known.empty() ? "" : ", ") + axes[i].key;
  }
  return Status::InvalidArgument("grid key '", field, "' = \"", key,
                                 "\" is not a [grid] axis; axes: ", known);
}

// The grid's `seeds`: distinct integers >= 0.
Status ReadSeeds(const toml::table& doc, SweepGrid& grid) {
  if (const toml::node* seeds = doc.get("seeds")) {
    const toml::array* array = seeds->as_array();
    if (array == nullptr || array->empty()) {
      return Status::InvalidArgument("grid key 'seeds' = ", TomlText(*seeds),
                                     " must be a non-empty array of integers >= 0");
    }
    for (const toml::node& s : *array) {
      const auto v = s.value<int64_t>();
      if (!s.is_integer() || !v || *v < 0) {
        return Status::InvalidArgument("grid key 'seeds' has element ", TomlText(s),
                                       "; seeds must be integers >= 0");
      }
      const auto seed = static_cast<uint64_t>(*v);
      if (std::find(grid.seeds.begin(), grid.seeds.end(), seed) != grid.seeds.end()) {
        return Status::InvalidArgument("grid key 'seeds' lists seed ", seed, " twice");
      }
      grid.seeds.push_back(seed);
    }
  }
  return Status::Ok();
}

// The [grid] axes, in file order; none may also be a [set] key.
Status ReadAxes(const toml::table& doc, const std::set<std::string>& fixed_keys,
                SweepGrid& grid) {
  const toml::node* axes = doc.get("grid");
  if (axes == nullptr || !axes->is_table() || axes->as_table()->empty()) {
    return Status::InvalidArgument(
        "grid has no axes: add a [grid] table of key = [values], e.g. "
        "\"data.alpha\" = [0.1, 1.0]");
  }
  for (const Leaf& leaf : FlattenInFileOrder(*axes->as_table())) {
    MURMUR_RETURN_IF_ERROR(CheckKey(leaf.key, "grid"));
    const toml::array* values = leaf.node->as_array();
    if (values == nullptr || values->empty()) {
      return Status::InvalidArgument("grid axis '", leaf.key, "' = ", TomlText(*leaf.node),
                                     " must be a non-empty array of values");
    }
    if (fixed_keys.count(leaf.key)) {
      return Status::InvalidArgument("config key '", leaf.key,
                                     "' is both in [set] and in [grid]; keep one");
    }
    SweepAxis axis{.key = leaf.key};
    for (const toml::node& value : *values) {
      if (ContainsTable(value)) {
        return Status::InvalidArgument("grid axis '", leaf.key, "' has value ", TomlText(value),
                                       ": a value cannot be a table");
      }
      std::string text = TomlText(value);
      if (std::find(axis.values.begin(), axis.values.end(), text) != axis.values.end()) {
        return Status::InvalidArgument("grid axis '", leaf.key, "' lists ", text, " twice");
      }
      axis.values.push_back(std::move(text));
      axis.labels.push_back(Label(value));
    }
    grid.axes.push_back(std::move(axis));
  }
  return Status::Ok();
}

}  // namespace

Result<SweepGrid> ParseSweepGrid(std::string_view text, std::string_view source_name,
                                 const std::string& grid_dir) {
  toml::table doc;
  try {
    doc = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(source_name, ":", e.source().begin.line, ":",
                                   e.source().begin.column, ": ", e.description());
  }
  static const std::set<std::string, std::less<>> kKnown = {"base", "seeds", "jobs", "rows",
                                                            "cols", "set",   "grid"};
  for (const auto& [k, node] : doc) {
    if (!kKnown.count(k.str())) {
      return Status::InvalidArgument(
          "unknown grid key '", k.str(),
          "'; known: base, seeds, jobs, rows, cols, [set], [grid]. Config keys go in [set] "
          "(fixed) or [grid] (varied)");
    }
  }
  SweepGrid grid;
  if (const toml::node* base = doc.get("base")) {
    if (!base->is_string() || base->as_string()->get().empty()) {
      return Status::InvalidArgument("grid key 'base' = ", TomlText(*base),
                                     " must be a config file path (a string)");
    }
    std::filesystem::path path(base->as_string()->get());
    if (path.is_relative() && !grid_dir.empty()) path = std::filesystem::path(grid_dir) / path;
    grid.base_path = path.lexically_normal().string();
  }
  MURMUR_RETURN_IF_ERROR(ReadSeeds(doc, grid));
  if (const toml::node* jobs = doc.get("jobs")) {
    const auto v = jobs->value<int64_t>();
    if (!jobs->is_integer() || !v || *v < 1 || *v > kMaxJobs) {
      return Status::InvalidArgument("grid key 'jobs' = ", TomlText(*jobs),
                                     " must be an integer in [1, ", kMaxJobs, "]");
    }
    grid.jobs = static_cast<int>(*v);
  }

  std::set<std::string> fixed_keys;
  if (const toml::node* set = doc.get("set")) {
    if (!set->is_table()) {
      return Status::InvalidArgument("grid key 'set' must be a table: [set] with key = value lines");
    }
    for (const Leaf& leaf : FlattenInFileOrder(*set->as_table())) {
      MURMUR_RETURN_IF_ERROR(CheckKey(leaf.key, "set"));
      if (ContainsTable(*leaf.node)) {
        return Status::InvalidArgument("grid [set] '", leaf.key, "' = ", TomlText(*leaf.node),
                                       ": a value cannot be a table");
      }
      grid.set.emplace_back(leaf.key, TomlText(*leaf.node));
      fixed_keys.insert(leaf.key);
    }
  }

  MURMUR_RETURN_IF_ERROR(ReadAxes(doc, fixed_keys, grid));

  MURMUR_ASSIGN_OR_RETURN(std::optional<size_t> rows, AxisNamed(doc, "rows", grid.axes));
  MURMUR_ASSIGN_OR_RETURN(std::optional<size_t> cols, AxisNamed(doc, "cols", grid.axes));
  if (rows && cols && *rows == *cols) {
    return Status::InvalidArgument("grid keys 'rows' and 'cols' both name '",
                                   grid.axes[*rows].key, "'; pick two different axes");
  }
  // Unnamed ones take the first axes in file order not already used.
  auto first_other = [&](std::optional<size_t> taken) -> std::optional<size_t> {
    for (size_t i = 0; i < grid.axes.size(); ++i) {
      if (!taken || i != *taken) return i;
    }
    return std::nullopt;
  };
  if (!rows) rows = first_other(cols);
  if (!cols) cols = first_other(rows);
  grid.row_axis = *rows;
  grid.col_axis = cols;

  std::map<std::string, std::string> seen;  // name -> key=value list
  for (const SweepCell& cell : ExpandCells(grid)) {
    std::string description;
    for (size_t a = 0; a < grid.axes.size(); ++a) {
      description += (a ? ", " : "") + grid.axes[a].key + "=" +
                     grid.axes[a].values[cell.value_index[a]];
    }
    auto [it, inserted] = seen.emplace(cell.name, description);
    if (!inserted) {
      return Status::InvalidArgument("cells {", it->second, "} and {", description,
                                     "} get the same run directory name '", cell.name,
                                     "'; make the values differ in letters or digits");
    }
  }
  return grid;
}

Result<SweepGrid> ReadSweepGrid(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("'", path, "' is a directory; pass a grid .toml file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("grid file '", path, "' cannot be opened; check the path");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseSweepGrid(buffer.str(), path,
                        std::filesystem::path(path).parent_path().string());
}

std::vector<SweepCell> ExpandCells(const SweepGrid& grid) {
  // An axis is named by its key's last part unless two axes share it.
  std::vector<std::string> short_names;
  std::map<std::string, int> uses;
  for (const SweepAxis& axis : grid.axes) {
    const size_t dot = axis.key.rfind('.');
    short_names.push_back(dot == std::string::npos ? axis.key : axis.key.substr(dot + 1));
    ++uses[short_names.back()];
  }
  for (size_t a = 0; a < grid.axes.size(); ++a) {
    if (uses[short_names[a]] > 1) short_names[a] = grid.axes[a].key;
  }

  std::vector<SweepCell> cells;
  std::vector<size_t> index(grid.axes.size(), 0);
  while (true) {
    SweepCell cell{.value_index = index};
    for (const auto& [key, value] : grid.set) cell.assignments.push_back(key + "=" + value);
    for (size_t a = 0; a < grid.axes.size(); ++a) {
      const SweepAxis& axis = grid.axes[a];
      if (a > 0) cell.name += '_';
      cell.name.append(DirectorySafe(short_names[a])).append("-");
      cell.name.append(DirectorySafe(axis.labels[index[a]]));
      cell.assignments.push_back(axis.key + "=" + axis.values[index[a]]);
    }
    cells.push_back(std::move(cell));
    // Odometer increment, last axis fastest.
    size_t a = grid.axes.size();
    while (a > 0) {
      --a;
      if (++index[a] < grid.axes[a].values.size()) break;
      index[a] = 0;
      if (a == 0) return cells;
    }
    if (grid.axes.empty()) return cells;
  }
}

Status CheckEveryAxisMatters(const SweepGrid& grid, const std::vector<SweepCell>& cells,
                             const std::vector<std::string>& cell_configs) {
  for (size_t a = 0; a < grid.axes.size(); ++a) {
    const SweepAxis& axis = grid.axes[a];
    if (axis.values.size() < 2) continue;
    // Cells that differ only in this axis, keyed by the other axes' values.
    std::map<std::vector<size_t>, std::set<std::string>> lines;
    bool matters = false;
    for (size_t c = 0; c < cells.size() && !matters; ++c) {
      std::vector<size_t> others = cells[c].value_index;
      others[a] = 0;
      std::set<std::string>& configs = lines[others];
      configs.insert(cell_configs[c]);
      matters = configs.size() > 1;
    }
    if (matters) continue;
    std::string values;
    for (const std::string& v : axis.values) values += (values.empty() ? "" : ", ") + v;
    return Status::InvalidArgument(
        "grid axis '", axis.key, "' changes nothing: its values [", values,
        "] give the same resolved run config in every cell (the runs do not use this key, "
        "or the values are equal); drop the axis or sweep a key these runs read");
  }
  return Status::Ok();
}

}  // namespace murmur::cli
