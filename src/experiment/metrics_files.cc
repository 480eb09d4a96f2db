#include "murmur/experiment/metrics_files.h"

#include <charconv>
#include <chrono>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <limits>
#include <sstream>
#include <nlohmann/json.hpp>

namespace murmur {
namespace {

// Columns are only ever appended; files written before the last two
// columns existed still read (those fields are then 0).
constexpr const char* kCsvHeaderV1 =
    "round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,"
    "bytes_sent,msgs_sent,peers_evaluated";
constexpr const char* kCsvHeader =
    "round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,"
    "bytes_sent,msgs_sent,peers_evaluated,bytes_received,max_peer_bytes";

std::string Number(double v) {
  if (!std::isfinite(v)) return "";
  return nlohmann::json(v).dump();
}

// Creates `dir` and writes its config.toml.
Status WriteConfigFile(const std::string& dir, const std::string& resolved_toml) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::Unavailable("cannot create output directory '", dir, "': ", ec.message());
  }
  std::ofstream config(dir + "/config.toml", std::ios::trunc);
  config << resolved_toml;
  if (!config) return Status::Unavailable("cannot write '", dir, "/config.toml'");
  return Status::Ok();
}

// The size of `path`, 0 when it does not exist.
uint64_t SizeOrZero(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

}  // namespace

Result<MetricsWriter> MetricsWriter::Open(const std::string& dir,
                                          const std::string& resolved_toml) {
  MURMUR_RETURN_IF_ERROR(WriteConfigFile(dir, resolved_toml));
  MetricsWriter writer;
  writer.dir_ = dir;
  writer.jsonl_.open(dir + "/metrics.jsonl", std::ios::trunc);
  writer.csv_.open(dir + "/metrics.csv", std::ios::trunc);
  if (!writer.jsonl_ || !writer.csv_) {
    return Status::Unavailable("cannot create metrics files in '", dir, "'");
  }
  writer.csv_ << kCsvHeader << "\n" << std::flush;
  writer.csv_bytes_ = std::string_view(kCsvHeader).size() + 1;
  return writer;
}

namespace {

// Cuts `path` back to its last newline: a row a killed process left half
// written goes (the rows before it stay). Returns the new size.
Result<uint64_t> CutToLastNewline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return uint64_t{0};
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  const size_t last = text.rfind('\n');
  const uint64_t keep = last == std::string::npos ? 0 : last + 1;
  if (keep < text.size()) {
    std::error_code ec;
    std::filesystem::resize_file(path, keep, ec);
    if (ec) return Status::Unavailable("cannot truncate '", path, "': ", ec.message());
  }
  return keep;
}

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<MetricsWriter> MetricsWriter::OpenAppending(const std::string& dir,
                                                   const std::string& resolved_toml) {
  if (std::ifstream earlier{dir + "/config.toml"}) {
    const std::string text{std::istreambuf_iterator<char>(earlier), {}};
    if (!text.empty() && text != resolved_toml) {
      return Status::InvalidArgument(
          "'", dir, "' holds the metrics of another run (its config.toml differs from this ",
          "one's): choose another --out, or move that run away");
    }
  }
  const std::string csv_path = dir + "/metrics.csv";
  if (SizeOrZero(csv_path) > 0) {
    std::ifstream in(csv_path);
    std::string header;
    std::getline(in, header);
    if (header != kCsvHeader) {
      return Status::InvalidArgument(
          "'", csv_path, "' was written by another murmur version (its header differs): ",
          "move it away or choose another --out");
    }
  }
  MURMUR_RETURN_IF_ERROR(WriteConfigFile(dir, resolved_toml));
  MURMUR_ASSIGN_OR_RETURN(const uint64_t jsonl_bytes, CutToLastNewline(dir + "/metrics.jsonl"));
  MURMUR_ASSIGN_OR_RETURN(const uint64_t csv_bytes, CutToLastNewline(csv_path));
  MetricsWriter writer;
  writer.dir_ = dir;
  // The earlier life's totals, so this life's rows count on from them.
  if (csv_bytes > 0) {
    Result<std::vector<EvalRow>> rows = ReadMetricsCsv(csv_path);
    if (!rows.ok()) {
      return Status::InvalidArgument(rows.status().message(),
                                     ": move it away or choose another --out");
    }
    if (!rows->empty()) {
      const EvalRow& last = rows->back();
      writer.earlier_ = {.bytes_sent = last.bytes_sent,
                         .msgs_sent = last.msgs_sent,
                         .bytes_received = last.bytes_received,
                         .max_peer_bytes = last.max_peer_bytes};
    }
  }
  // Seconds since the first life started (its wall clock, kept in
  // run_start.txt): a restarted peer's time_s counts on across the gap.
  // A fresh directory (no rows yet) starts the clock at 0, as Open does.
  const std::string start_path = dir + "/run_start.txt";
  double run_start = 0;
  std::ifstream start{start_path};
  if (csv_bytes == 0 || !(start >> run_start) || !std::isfinite(run_start)) {
    run_start = UnixSeconds();
    std::ofstream out(start_path, std::ios::trunc);
    out.precision(17);
    out << run_start << "\n";
    if (!out) return Status::Unavailable("cannot write '", start_path, "'");
  } else {
    writer.earlier_.seconds = std::max(0.0, UnixSeconds() - run_start);
  }
  writer.jsonl_.open(dir + "/metrics.jsonl", std::ios::app);
  writer.csv_.open(csv_path, std::ios::app);
  if (!writer.jsonl_ || !writer.csv_) {
    return Status::Unavailable("cannot open the metrics files in '", dir, "'");
  }
  writer.jsonl_bytes_ = jsonl_bytes;
  writer.csv_bytes_ = csv_bytes;
  if (csv_bytes == 0) {
    writer.csv_ << kCsvHeader << "\n" << std::flush;
    writer.csv_bytes_ = std::string_view(kCsvHeader).size() + 1;
  }
  return writer;
}

Status MetricsWriter::CutTo(const std::string& dir, uint64_t jsonl_bytes, uint64_t csv_bytes,
                           const std::string& recorded_in) {
  const std::pair<std::string, uint64_t> files[] = {{dir + "/metrics.jsonl", jsonl_bytes},
                                                    {dir + "/metrics.csv", csv_bytes}};
  uintmax_t sizes[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const auto& [path, recorded] = files[i];
    std::error_code ec;
    sizes[i] = std::filesystem::exists(path, ec) ? std::filesystem::file_size(path, ec) : 0;
    if (ec) return Status::Unavailable("cannot read the size of '", path, "': ", ec.message());
    const char* why = nullptr;
    if (sizes[i] < recorded) {
      why = "is shorter than";
    } else if (recorded > 0) {
      std::ifstream in(path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(recorded - 1));
      if (in.get() != '\n') why = "has no row ending at the length recorded in";
    }
    if (why != nullptr) {
      return Status::InvalidArgument("'", path, "' (", sizes[i], " bytes) ", why, " '",
                                     recorded_in, "' (", recorded, " bytes): it was changed "
                                     "after the save. Nothing was changed");
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (sizes[i] == files[i].second) continue;
    std::error_code ec;
    std::filesystem::resize_file(files[i].first, files[i].second, ec);
    if (ec) return Status::Unavailable("cannot cut '", files[i].first, "' back: ", ec.message());
  }
  return Status::Ok();
}

Result<MetricsWriter> MetricsWriter::Reopen(const std::string& dir, uint64_t jsonl_bytes,
                                            uint64_t csv_bytes) {
  MURMUR_RETURN_IF_ERROR(CutTo(dir, jsonl_bytes, csv_bytes, "the run's snapshot"));
  MetricsWriter writer;
  writer.dir_ = dir;
  writer.jsonl_.open(dir + "/metrics.jsonl", std::ios::app);
  writer.csv_.open(dir + "/metrics.csv", std::ios::app);
  if (!writer.jsonl_ || !writer.csv_) {
    return Status::Unavailable("cannot open the metrics files in '", dir, "'");
  }
  writer.jsonl_bytes_ = jsonl_bytes;
  writer.csv_bytes_ = csv_bytes;
  return writer;
}

namespace {

// JSON has no infinity: an unbounded epsilon (no noise) is null.
nlohmann::ordered_json FiniteOrNull(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

std::string MetricsWriter::ToJson(const EvalRow& row) {
  nlohmann::ordered_json j;
  j["round"] = row.round;
  j["time_s"] = row.time_s;
  j["acc_mean"] = row.acc_mean;
  j["acc_min"] = row.acc_min;
  j["acc_max"] = row.acc_max;
  j["loss_mean"] = row.loss_mean;
  j["train_loss"] = std::isfinite(row.train_loss) ? nlohmann::ordered_json(row.train_loss)
                                                  : nlohmann::ordered_json(nullptr);
  j["consensus_dist"] = row.consensus_dist;
  j["bytes_sent"] = row.bytes_sent;
  j["msgs_sent"] = row.msgs_sent;
  j["peers_evaluated"] = row.peers_evaluated;
  j["bytes_received"] = row.bytes_received;
  j["max_peer_bytes"] = row.max_peer_bytes;
  // Only for the runs that have them (so other runs' lines stay as they were).
  if (row.bytes_up) j["bytes_up"] = *row.bytes_up;
  if (row.bytes_down) j["bytes_down"] = *row.bytes_down;
  for (const auto& [name, bytes] : row.stage_bytes) j[name] = bytes;
  if (row.epsilon) j["epsilon"] = FiniteOrNull(*row.epsilon);
  return j.dump();
}

namespace {

// Parses one CSV field; an empty field is NaN (how non-finite values are
// written).
bool ParseField(const std::string& field, double* out) {
  if (field.empty()) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  const char* end = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

template <typename T>
bool ParseInteger(const std::string& field, T* out) {
  const char* end = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), end, *out);
  return !field.empty() && ec == std::errc() && ptr == end && *out >= 0;
}

}  // namespace

Result<std::vector<EvalRow>> ReadMetricsCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("metrics file '", path, "' not found");
  std::string line;
  if (!std::getline(in, line) || (line != kCsvHeader && line != kCsvHeaderV1)) {
    return Status::Corrupt(path, ":1: not a murmur metrics.csv header");
  }
  const size_t columns = line == kCsvHeader ? 13 : 11;
  std::vector<EvalRow> rows;
  for (int line_no = 2; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream fields(line);
    std::string field;
    while (std::getline(fields, field, ',')) f.push_back(field);
    if (line.back() == ',') f.emplace_back();
    if (f.size() != columns) {
      return Status::Corrupt(path, ":", line_no, ": ", f.size(), " fields where ", columns,
                             " were expected");
    }
    EvalRow row;
    double* reals[] = {&row.time_s,    &row.acc_mean,   &row.acc_min,       &row.acc_max,
                       &row.loss_mean, &row.train_loss, &row.consensus_dist};
    for (size_t k = 0; k < 7; ++k) {
      if (!ParseField(f[k + 1], reals[k])) {
        return Status::Corrupt(path, ":", line_no, ": field '", f[k + 1], "' is not a number");
      }
    }
    int64_t round, peers;
    if (!ParseInteger(f[0], &round) || !ParseInteger(f[8], &row.bytes_sent) ||
        !ParseInteger(f[9], &row.msgs_sent) || !ParseInteger(f[10], &peers)) {
      return Status::Corrupt(path, ":", line_no, ": round, bytes_sent, msgs_sent and ",
                             "peers_evaluated must be non-negative integers");
    }
    if (columns == 13 && (!ParseInteger(f[11], &row.bytes_received) ||
                          !ParseInteger(f[12], &row.max_peer_bytes))) {
      return Status::Corrupt(path, ":", line_no,
                             ": bytes_received and max_peer_bytes must be non-negative integers");
    }
    row.round = round;
    row.peers_evaluated = peers;
    rows.push_back(row);
  }
  return rows;
}

double AccuracyPerMb(const EvalRow& row) {
  const double mb = static_cast<double>(row.bytes_sent) / 1e6;
  return mb > 0 ? row.acc_mean / mb : 0.0;
}

Status WritePeerTraffic(const std::string& dir, const std::vector<std::string>& roles,
                        const std::vector<PeerTraffic>& traffic) {
  MURMUR_CHECK(roles.size() == traffic.size());
  std::ofstream out(dir + "/peers.csv", std::ios::trunc);
  out << "peer,role,bytes_sent,bytes_received,msgs_sent,msgs_received\n";
  for (size_t i = 0; i < traffic.size(); ++i) {
    const PeerTraffic& t = traffic[i];
    out << i << "," << roles[i] << "," << t.bytes_sent << "," << t.bytes_received << ","
        << t.msgs_sent << "," << t.msgs_received << "\n";
  }
  out.flush();
  if (!out) return Status::Unavailable("cannot write '", dir, "/peers.csv'");
  return Status::Ok();
}

Status WriteRunSummary(const std::string& dir, const EvalRow& last, const RunTotals& totals) {
  nlohmann::ordered_json j;
  j["round"] = last.round;
  j["acc_mean"] = last.acc_mean;
  j["acc_min"] = last.acc_min;
  j["acc_max"] = last.acc_max;
  j["loss_mean"] = last.loss_mean;
  j["bytes_sent"] = last.bytes_sent;
  j["bytes_received"] = last.bytes_received;
  j["max_peer_bytes"] = last.max_peer_bytes;
  j["msgs_sent"] = last.msgs_sent;
  j["mb_sent"] = static_cast<double>(last.bytes_sent) / 1e6;
  j["acc_per_mb"] = AccuracyPerMb(last);
  if (last.bytes_up) j["bytes_up"] = *last.bytes_up;
  if (last.bytes_down) j["bytes_down"] = *last.bytes_down;
  for (const auto& [name, bytes] : last.stage_bytes) j[name] = bytes;
  if (last.epsilon) j["epsilon"] = FiniteOrNull(*last.epsilon);
  j["virtual_time_s"] = totals.virtual_time_s;
  j["rounds"] = totals.rounds;
  j["finished"] = totals.finished;
  j["ended_by"] = totals.finished ? nlohmann::ordered_json(RunEndName(totals.ended_by))
                                  : nlohmann::ordered_json(nullptr);
  const auto or_null = [](const auto& value) {
    return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
  };
  const std::optional<TargetReached>& target = totals.target_reached;
  j["target_acc"] = or_null(totals.target_acc);
  j["round_to_target"] = or_null(target ? std::optional(target->round) : std::nullopt);
  j["time_to_target_s"] = or_null(target ? std::optional(target->time_s) : std::nullopt);
  j["bytes_to_target"] = or_null(target ? std::optional(target->bytes_sent) : std::nullopt);
  j["counters"] = totals.counters;
  std::ofstream out(dir + "/summary.json", std::ios::trunc);
  out << j.dump(2) << "\n";
  out.flush();
  if (!out) return Status::Unavailable("cannot write '", dir, "/summary.json'");
  return Status::Ok();
}

bool SummarySaysFinished(const std::string& dir) {
  std::ifstream in(dir + "/summary.json");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("finished") && j["finished"].is_boolean() &&
         j["finished"].get<bool>();
}

Status WriteNodeSummary(const std::string& dir, const NodeSummary& summary) {
  nlohmann::ordered_json j;
  j["peer"] = summary.peer.value;
  j["name"] = summary.name;
  j["role"] = summary.role;
  j["finished"] = summary.finished;
  j["first_report"] = summary.first_report;
  j["bytes_sent"] = summary.traffic.bytes_sent;
  j["bytes_received"] = summary.traffic.bytes_received;
  j["msgs_sent"] = summary.traffic.msgs_sent;
  j["msgs_received"] = summary.traffic.msgs_received;
  for (const auto& [name, value] : summary.transport) j[name] = value;
  j["counters"] = summary.counters;
  if (summary.epsilon) j["epsilon"] = FiniteOrNull(*summary.epsilon);
  std::ofstream out(dir + "/summary.json", std::ios::trunc);
  out << j.dump(2) << "\n";
  out.flush();
  if (!out) return Status::Unavailable("cannot write '", dir, "/summary.json'");
  return Status::Ok();
}

NodeSummary ReadNodeSummary(const std::string& dir) {
  NodeSummary s;
  std::ifstream in(dir + "/summary.json");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("role") || !j["role"].is_string()) return s;
  const auto get = [&](const char* key) -> uint64_t {
    return j.contains(key) && j[key].is_number_unsigned() ? j[key].get<uint64_t>() : 0;
  };
  const auto flag = [&](const char* key) {
    return j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
  };
  s.peer = PeerOf(get("peer"));
  if (j.contains("name") && j["name"].is_string()) s.name = j["name"].get<std::string>();
  s.role = j["role"].get<std::string>();
  s.finished = flag("finished");
  s.first_report = flag("first_report");
  s.traffic = PeerTraffic{.bytes_sent = get("bytes_sent"),
                          .bytes_received = get("bytes_received"),
                          .msgs_sent = get("msgs_sent"),
                          .msgs_received = get("msgs_received")};
  if (j.contains("counters") && j["counters"].is_object()) {
    for (const auto& [name, value] : j["counters"].items()) {
      if (value.is_number_integer()) s.counters[name] = value.get<int64_t>();
    }
  }
  if (j.contains("epsilon")) {
    // null is how an unbounded epsilon is written.
    s.epsilon = j["epsilon"].is_number() ? j["epsilon"].get<double>()
                                          : std::numeric_limits<double>::infinity();
  }
  return s;
}

Status MetricsWriter::Append(const EvalRow& row) {
  const std::string json = ToJson(row);
  jsonl_ << json << "\n" << std::flush;
  jsonl_bytes_ += json.size() + 1;
  std::ostringstream csv;
  csv << row.round << "," << Number(row.time_s) << "," << Number(row.acc_mean) << ","
       << Number(row.acc_min) << "," << Number(row.acc_max) << "," << Number(row.loss_mean)
       << "," << Number(row.train_loss) << "," << Number(row.consensus_dist) << ","
       << row.bytes_sent << "," << row.msgs_sent << "," << row.peers_evaluated << ","
       << row.bytes_received << "," << row.max_peer_bytes << "\n";
  csv_ << csv.str() << std::flush;
  csv_bytes_ += csv.str().size();
  if (!jsonl_ || !csv_) return Status::Unavailable("cannot write metrics in '", dir_, "'");
  return Status::Ok();
}

}  // namespace murmur
