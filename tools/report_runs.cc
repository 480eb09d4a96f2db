#include "report_runs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <toml++/toml.h>

#include "murmur/experiment/metrics_files.h"

namespace murmur::cli {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Status ReadConfig(const std::string& path, RunRecord& run) {
  std::ifstream in(path);
  if (!in) {
    run.group_key = "dir:" + run.dir;
    return Status::Ok();
  }
  toml::table table;
  try {
    table = toml::parse(in, path);
  } catch (const toml::parse_error& e) {
    return Status::Corrupt(path, ": not a TOML file (", e.description(), ")");
  }
  run.has_config = true;
  if (std::optional<int64_t> seed = table["seed"].value<int64_t>(); seed && *seed >= 0) {
    run.seed = static_cast<uint64_t>(*seed);
  }
  table.erase("seed");
  table.erase("threads");
  std::ostringstream key;
  key << toml::toml_formatter(table);
  run.group_key = key.str();
  return Status::Ok();
}

Status ReadSummary(const std::string& path, RunRecord& run) {
  std::ifstream in(path);
  if (!in) return Status::Ok();
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corrupt(path, ": not a JSON object (rerun the run, or delete the file)");
  }
  for (const auto& [key, value] : j.items()) {
    if (value.is_number()) run.summary[key] = value.get<double>();
    if (key == "ended_by" && value.is_string()) run.ended_by = value.get<std::string>();
    if (key == "time_to_target_s") run.has_target = true;
  }
  return Status::Ok();
}

// The name with the last number equal to `seed` replaced by '*', or empty
// when the name does not contain the seed.
std::string WithoutSeed(const std::string& name, uint64_t seed) {
  const std::string digits = std::to_string(seed);
  size_t end = name.size();
  while (end > 0) {
    while (end > 0 && !std::isdigit(static_cast<unsigned char>(name[end - 1]))) --end;
    size_t begin = end;
    while (begin > 0 && std::isdigit(static_cast<unsigned char>(name[begin - 1]))) --begin;
    if (end > begin && name.compare(begin, end - begin, digits) == 0) {
      return name.substr(0, begin) + "*" + name.substr(end);
    }
    end = begin;
  }
  return "";
}

const EvalRow* RowOfRound(const std::vector<EvalRow>& rows, int64_t round) {
  auto it = std::lower_bound(rows.begin(), rows.end(), round,
                             [](const EvalRow& r, int64_t k) { return r.round < k; });
  return it != rows.end() && it->round == round ? &*it : nullptr;
}

}  // namespace

Result<RunRecord> LoadRun(const std::string& dir) {
  RunRecord run;
  run.dir = dir;
  run.name = std::filesystem::path(dir).lexically_normal().filename().string();
  MURMUR_ASSIGN_OR_RETURN(run.rows, ReadMetricsCsv(dir + "/metrics.csv"));
  if (Status s = ReadConfig(dir + "/config.toml", run); !s.ok()) return s;
  if (Status s = ReadSummary(dir + "/summary.json", run); !s.ok()) return s;
  return run;
}

void RelativeRunNames(std::vector<RunRecord>& runs) {
  if (runs.empty()) return;
  auto normal = [](const std::string& dir) {
    std::filesystem::path p = std::filesystem::absolute(dir).lexically_normal();
    return p.has_filename() ? p : p.parent_path();
  };
  std::filesystem::path common = normal(runs[0].dir).parent_path();
  for (const RunRecord& run : runs) {
    const std::filesystem::path p = normal(run.dir);
    while (!common.empty() && p.lexically_relative(common).string().rfind("..", 0) == 0) {
      if (common == common.parent_path()) break;
      common = common.parent_path();
    }
  }
  for (RunRecord& run : runs) {
    const std::string rel = normal(run.dir).lexically_relative(common).string();
    if (!rel.empty() && rel != ".") run.name = rel;
  }
}

std::vector<RunGroup> GroupBySeed(const std::vector<RunRecord>& runs) {
  std::vector<RunGroup> groups;
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < runs.size(); ++i) {
    auto [it, added] = by_key.emplace(runs[i].group_key, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].runs.push_back(i);
  }
  for (RunGroup& g : groups) {
    const RunRecord& first = runs[g.runs.front()];
    if (g.runs.size() == 1) {
      g.label = first.name;
      continue;
    }
    g.label = WithoutSeed(first.name, first.seed);
    for (size_t i : g.runs) {
      if (g.label.empty() || WithoutSeed(runs[i].name, runs[i].seed) != g.label) {
        g.label = first.name + " (+" + std::to_string(g.runs.size() - 1) + " seeds)";
        break;
      }
    }
  }
  return groups;
}

double AxisValue(const EvalRow& row, Axis axis) {
  switch (axis) {
    case Axis::kRound: return static_cast<double>(row.round);
    case Axis::kTime: return row.time_s;
    case Axis::kMb: return static_cast<double>(row.bytes_sent) / 1e6;
  }
  return kNaN;
}

const std::vector<std::string>& MetricNames() {
  static const std::vector<std::string> kNames = {
      "acc_mean",   "acc_min",     "acc_max",     "loss_mean", "train_loss",     "consensus_dist",
      "mb_sent",    "mb_received", "max_peer_mb", "msgs_sent", "peers_evaluated"};
  return kNames;
}

double MetricValue(const EvalRow& row, const std::string& name) {
  if (name == "acc_mean") return row.acc_mean;
  if (name == "acc_min") return row.acc_min;
  if (name == "acc_max") return row.acc_max;
  if (name == "loss_mean") return row.loss_mean;
  if (name == "train_loss") return row.train_loss;
  if (name == "consensus_dist") return row.consensus_dist;
  if (name == "mb_sent") return static_cast<double>(row.bytes_sent) / 1e6;
  if (name == "mb_received") return static_cast<double>(row.bytes_received) / 1e6;
  if (name == "max_peer_mb") return static_cast<double>(row.max_peer_bytes) / 1e6;
  if (name == "msgs_sent") return static_cast<double>(row.msgs_sent);
  if (name == "peers_evaluated") return static_cast<double>(row.peers_evaluated);
  return kNaN;
}

double AccuracyAt(const std::vector<EvalRow>& rows, Axis axis, double x) {
  double acc = kNaN;
  for (const EvalRow& row : rows) {
    // Rows are in time order and their bytes and rounds never decrease.
    if (AxisValue(row, axis) > x) break;
    acc = row.acc_mean;
  }
  return acc;
}

GroupCurve AggregateGroup(const std::vector<RunRecord>& runs, const RunGroup& group) {
  GroupCurve curve;
  if (group.runs.empty()) return curve;
  for (const EvalRow& candidate : runs[group.runs.front()].rows) {
    std::vector<const EvalRow*> rows;
    for (size_t i : group.runs) {
      if (const EvalRow* r = RowOfRound(runs[i].rows, candidate.round)) rows.push_back(r);
    }
    if (rows.size() != group.runs.size()) continue;
    curve.round.push_back(candidate.round);
    double time = 0, mb = 0;
    for (const EvalRow* r : rows) time += r->time_s, mb += AxisValue(*r, Axis::kMb);
    curve.time_s.push_back(time / static_cast<double>(rows.size()));
    curve.mb.push_back(mb / static_cast<double>(rows.size()));
    for (const std::string& metric : MetricNames()) {
      std::vector<double> values;
      for (const EvalRow* r : rows) values.push_back(MetricValue(*r, metric));
      curve.stats[metric].push_back(MeanAnd95(values));
      curve.min[metric].push_back(*std::min_element(values.begin(), values.end()));
      curve.max[metric].push_back(*std::max_element(values.begin(), values.end()));
    }
  }
  return curve;
}

GroupSummary SummarizeGroup(const std::vector<RunRecord>& runs, const RunGroup& group,
                            const ReportPoints& points) {
  std::vector<double> acc, acc_min, mb, seconds, to_time, to_mb;
  std::vector<std::vector<double>> at_mb(points.mb.size()), at_time(points.time_s.size());
  for (size_t i : group.runs) {
    const RunRecord& run = runs[i];
    if (run.rows.empty()) continue;
    const EvalRow& last = run.rows.back();
    acc.push_back(last.acc_mean);
    acc_min.push_back(last.acc_min);
    mb.push_back(AxisValue(last, Axis::kMb));
    auto vt = run.summary.find("virtual_time_s");
    seconds.push_back(vt != run.summary.end() ? vt->second : last.time_s);
    if (auto t = run.summary.find("time_to_target_s"); t != run.summary.end()) {
      to_time.push_back(t->second);
    }
    if (auto b = run.summary.find("bytes_to_target"); b != run.summary.end()) {
      to_mb.push_back(b->second / 1e6);
    }
    for (size_t k = 0; k < points.mb.size(); ++k) {
      const double a = AccuracyAt(run.rows, Axis::kMb, points.mb[k]);
      if (std::isfinite(a)) at_mb[k].push_back(a);
    }
    for (size_t k = 0; k < points.time_s.size(); ++k) {
      const double a = AccuracyAt(run.rows, Axis::kTime, points.time_s[k]);
      if (std::isfinite(a)) at_time[k].push_back(a);
    }
  }
  size_t target_runs = 0;
  for (size_t i : group.runs) target_runs += runs[i].has_target && !runs[i].rows.empty();
  GroupSummary s{.final_acc = MeanAnd95(acc),
                 .final_acc_min = MeanAnd95(acc_min),
                 .mb_sent = MeanAnd95(mb),
                 .virtual_s = MeanAnd95(seconds),
                 .time_to_target = MeanAnd95(to_time),
                 .mb_to_target = MeanAnd95(to_mb),
                 .target_runs = target_runs};
  for (const auto& v : at_mb) s.at_mb.push_back(MeanAnd95(v));
  for (const auto& v : at_time) s.at_time.push_back(MeanAnd95(v));
  return s;
}

}  // namespace murmur::cli
