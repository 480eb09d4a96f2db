#include "murmur/sim/metrics_writer.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace murmur {
namespace {

constexpr const char* kCsvHeader =
    "round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,"
    "bytes_sent,msgs_sent,peers_evaluated";

std::string Number(double v) {
  if (!std::isfinite(v)) return "";
  return nlohmann::json(v).dump();
}

}  // namespace

Result<MetricsWriter> MetricsWriter::Open(const std::string& dir,
                                          const std::string& resolved_toml) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::Unavailable("cannot create output directory '", dir, "': ", ec.message());
  }
  {
    std::ofstream config(dir + "/config.toml", std::ios::trunc);
    config << resolved_toml;
    if (!config) return Status::Unavailable("cannot write '", dir, "/config.toml'");
  }
  MetricsWriter writer;
  writer.dir_ = dir;
  writer.jsonl_.open(dir + "/metrics.jsonl", std::ios::trunc);
  writer.csv_.open(dir + "/metrics.csv", std::ios::trunc);
  if (!writer.jsonl_ || !writer.csv_) {
    return Status::Unavailable("cannot create metrics files in '", dir, "'");
  }
  writer.csv_ << kCsvHeader << "\n" << std::flush;
  return writer;
}

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
  return j.dump();
}

Status MetricsWriter::Append(const EvalRow& row) {
  jsonl_ << ToJson(row) << "\n" << std::flush;
  csv_ << row.round << "," << Number(row.time_s) << "," << Number(row.acc_mean) << ","
       << Number(row.acc_min) << "," << Number(row.acc_max) << "," << Number(row.loss_mean)
       << "," << Number(row.train_loss) << "," << Number(row.consensus_dist) << ","
       << row.bytes_sent << "," << row.msgs_sent << "," << row.peers_evaluated << "\n"
       << std::flush;
  if (!jsonl_ || !csv_) return Status::Unavailable("cannot write metrics in '", dir_, "'");
  return Status::Ok();
}

}  // namespace murmur
