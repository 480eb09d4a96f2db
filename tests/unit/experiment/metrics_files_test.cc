#include "murmur/experiment/metrics_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace murmur {
namespace {

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("murmur_metrics_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(MetricsWriter, CsvReadsBackWhatWasWritten) {
  const std::string dir = TempDir("roundtrip");
  EvalRow a{.round = 0, .time_s = 0, .acc_mean = 0.1, .acc_min = 0.05, .acc_max = 0.2,
            .loss_mean = 2.3, .train_loss = std::nan(""), .consensus_dist = 0,
            .bytes_sent = 0, .msgs_sent = 0, .peers_evaluated = 4};
  EvalRow b{.round = 10, .time_s = 1.25, .acc_mean = 0.8125, .acc_min = 0.75, .acc_max = 0.875,
            .loss_mean = 0.5, .train_loss = 0.4, .consensus_dist = 0.3,
            .bytes_sent = 123456789, .msgs_sent = 640, .peers_evaluated = 4,
            .bytes_received = 123000000, .max_peer_bytes = 15432098};
  {
    Result<MetricsWriter> w = MetricsWriter::Open(dir, "seed = 1\n");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE(w->Append(a).ok());
    ASSERT_TRUE(w->Append(b).ok());
  }
  Result<std::vector<EvalRow>> rows = ReadMetricsCsv(dir + "/metrics.csv");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_TRUE(std::isnan((*rows)[0].train_loss));
  const EvalRow& r = (*rows)[1];
  EXPECT_EQ(r.round, 10);
  EXPECT_EQ(r.time_s, 1.25);
  EXPECT_EQ(r.acc_mean, 0.8125);
  EXPECT_EQ(r.bytes_sent, 123456789u);
  EXPECT_EQ(r.msgs_sent, 640u);
  EXPECT_EQ(r.peers_evaluated, 4);
  EXPECT_EQ(r.bytes_received, 123000000u);
  EXPECT_EQ(r.max_peer_bytes, 15432098u);
  EXPECT_NE(MetricsWriter::ToJson(b).find("\"bytes_received\":123000000,\"max_peer_bytes\":15432098}"),
            std::string::npos);
  // JSON lines carry the same row.
  EXPECT_EQ(MetricsWriter::ToJson(b).rfind("{\"round\":10,\"time_s\":1.25,", 0), 0u);
  std::filesystem::remove_all(dir);
}

TEST(MetricsWriter, JsonHasDirectionAndStageColumnsOnlyWhenTheRunHasThem) {
  EvalRow row{.round = 3, .bytes_sent = 1000, .msgs_sent = 4, .peers_evaluated = 1};
  const std::string plain = MetricsWriter::ToJson(row);
  EXPECT_EQ(plain.find("bytes_up"), std::string::npos);
  EXPECT_EQ(plain.find("stage"), std::string::npos);
  row.bytes_up = 600;
  row.bytes_down = 400;
  row.stage_bytes = {{"bytes_up_stage_topk", 700}, {"bytes_up_stage_int8", 500}};
  const std::string coded = MetricsWriter::ToJson(row);
  EXPECT_EQ(coded.rfind(plain.substr(0, plain.size() - 1), 0), 0u);  // old columns first
  EXPECT_NE(coded.find("\"max_peer_bytes\":0,\"bytes_up\":600,\"bytes_down\":400,"
                       "\"bytes_up_stage_int8\":500,\"bytes_up_stage_topk\":700}"),
            std::string::npos)
      << coded;
}

TEST(WritePeerTraffic, WritesOneLinePerNode) {
  const std::string dir = TempDir("peers");
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(WritePeerTraffic(dir, {"client", "server"},
                               {PeerTraffic{.bytes_sent = 10, .bytes_received = 20,
                                            .msgs_sent = 1, .msgs_received = 2},
                                PeerTraffic{.bytes_sent = 20, .bytes_received = 9,
                                            .msgs_sent = 2, .msgs_received = 1}})
                  .ok());
  std::ifstream in(dir + "/peers.csv");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text,
            "peer,role,bytes_sent,bytes_received,msgs_sent,msgs_received\n"
            "0,client,10,20,1,2\n"
            "1,server,20,9,2,1\n");
  EXPECT_FALSE(WritePeerTraffic(dir + "/missing/dir", {"peer"}, {PeerTraffic{}}).ok());
  std::filesystem::remove_all(dir);
}

TEST(WriteRunSummary, HasAccuracyPerMegabyte) {
  const std::string dir = TempDir("summary");
  std::filesystem::create_directories(dir);
  EvalRow last{.round = 20, .acc_mean = 0.8, .bytes_sent = 4'000'000, .peers_evaluated = 1};
  last.bytes_up = 1'000'000;
  last.bytes_down = 3'000'000;
  EXPECT_DOUBLE_EQ(AccuracyPerMb(last), 0.2);
  EXPECT_EQ(AccuracyPerMb(EvalRow{.acc_mean = 0.5}), 0.0);
  ASSERT_TRUE(WriteRunSummary(dir, last,
                              {.virtual_time_s = 12.5, .rounds = 20, .finished = true,
                               .counters = {{"fedavg.empty_rounds", 0}}})
                  .ok());
  std::ifstream in(dir + "/summary.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* field : {"\"round\": 20", "\"acc_mean\": 0.8", "\"bytes_sent\": 4000000",
                            "\"mb_sent\": 4.0", "\"acc_per_mb\": 0.2", "\"bytes_up\": 1000000",
                            "\"bytes_down\": 3000000", "\"virtual_time_s\": 12.5",
                            "\"finished\": true", "\"fedavg.empty_rounds\": 0"}) {
    EXPECT_NE(text.find(field), std::string::npos) << field << " in " << text;
  }
  std::filesystem::remove_all(dir);
}

TEST(WriteRunSummary, SaysWhyTheRunEndedAndWhenItReachedItsTarget) {
  const std::string dir = TempDir("ending");
  std::filesystem::create_directories(dir);
  const EvalRow last{.round = 7, .acc_mean = 0.9, .bytes_sent = 900, .peers_evaluated = 1};
  const auto written = [&](const RunTotals& totals) {
    EXPECT_TRUE(WriteRunSummary(dir, last, totals).ok());
    std::ifstream in(dir + "/summary.json");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  std::string text = written({.finished = true, .ended_by = RunEnd::kByteBudget});
  for (const char* field : {"\"ended_by\": \"byte_budget\"", "\"target_acc\": null",
                            "\"round_to_target\": null", "\"time_to_target_s\": null",
                            "\"bytes_to_target\": null"}) {
    EXPECT_NE(text.find(field), std::string::npos) << field << " in " << text;
  }
  text = written({.finished = true,
                  .ended_by = RunEnd::kTargetAcc,
                  .target_acc = 0.75,
                  .target_reached = TargetReached{.round = 5, .time_s = 2.5, .bytes_sent = 600}});
  for (const char* field : {"\"ended_by\": \"target_acc\"", "\"target_acc\": 0.75",
                            "\"round_to_target\": 5", "\"time_to_target_s\": 2.5",
                            "\"bytes_to_target\": 600"}) {
    EXPECT_NE(text.find(field), std::string::npos) << field << " in " << text;
  }
  // A run cut short has no ending to name.
  text = written({.finished = false, .target_acc = 0.75});
  EXPECT_NE(text.find("\"ended_by\": null"), std::string::npos) << text;
  EXPECT_NE(text.find("\"round_to_target\": null"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

// A restarted `murmur peer` keeps what its earlier life wrote.
TEST(MetricsWriter, OpenAppendingKeepsTheRowsOfTheSameRun) {
  const std::string dir = TempDir("append");
  const EvalRow first{.round = 0, .acc_mean = 0.25, .bytes_sent = 1000, .msgs_sent = 4,
                      .peers_evaluated = 1, .bytes_received = 900, .max_peer_bytes = 1900};
  const EvalRow second{.round = 7, .acc_mean = 0.75, .peers_evaluated = 1};
  {
    Result<MetricsWriter> w = MetricsWriter::OpenAppending(dir, "seed = 1\n");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(w->earlier().bytes_sent, 0u);  // a fresh directory
    EXPECT_EQ(w->earlier().seconds, 0.0);
    ASSERT_TRUE(w->Append(first).ok());
  }
  uint64_t csv_after_first = std::filesystem::file_size(dir + "/metrics.csv");
  const uint64_t jsonl_after_first = std::filesystem::file_size(dir + "/metrics.jsonl");
  // The first life was killed in the middle of its next row.
  std::ofstream(dir + "/metrics.csv", std::ios::app) << "7,0.1,0.5";
  std::ofstream(dir + "/metrics.jsonl", std::ios::app) << "{\"round\":7,";
  {
    Result<MetricsWriter> w = MetricsWriter::OpenAppending(dir, "seed = 1\n");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(w->lengths().second, csv_after_first);  // the torn row is cut off
    EXPECT_EQ(w->lengths().first, jsonl_after_first);
    // Where the earlier life's counters ended, for this one to count on from.
    EXPECT_EQ(w->earlier().bytes_sent, 1000u);
    EXPECT_EQ(w->earlier().msgs_sent, 4u);
    EXPECT_EQ(w->earlier().bytes_received, 900u);
    EXPECT_EQ(w->earlier().max_peer_bytes, 1900u);
    EXPECT_GE(w->earlier().seconds, 0.0);
    ASSERT_TRUE(w->Append(second).ok());
  }
  Result<std::vector<EvalRow>> rows = ReadMetricsCsv(dir + "/metrics.csv");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);  // one header, both lives' rows
  EXPECT_EQ((*rows)[0].acc_mean, 0.25);
  EXPECT_EQ((*rows)[1].round, 7);
  std::ifstream jsonl(dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(jsonl, line);) ++lines;
  EXPECT_EQ(lines, 2);

  // Another run's directory is refused, and left as it was.
  Result<MetricsWriter> other = MetricsWriter::OpenAppending(dir, "seed = 2\n");
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("another run"), std::string::npos);
  EXPECT_EQ(ReadMetricsCsv(dir + "/metrics.csv")->size(), 2u);
  // So is a metrics.csv of another format, with config.toml untouched.
  std::ofstream(dir + "/metrics.csv", std::ios::trunc) << "round,acc\n0,0.5\n";
  std::filesystem::remove(dir + "/config.toml");
  EXPECT_EQ(MetricsWriter::OpenAppending(dir, "seed = 1\n").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir + "/config.toml"));
  std::filesystem::remove_all(dir);
}

// Files written before bytes_received and max_peer_bytes existed still read.
TEST(ReadMetricsCsv, ReadsFilesWithoutTheTrafficColumns) {
  const std::string dir = TempDir("v1");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/metrics.csv", std::ios::trunc)
      << "round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,"
         "bytes_sent,msgs_sent,peers_evaluated\n"
      << "10,1.5,0.8,0.7,0.9,0.5,0.4,0.3,1000,10,4\n";
  Result<std::vector<EvalRow>> rows = ReadMetricsCsv(dir + "/metrics.csv");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].bytes_sent, 1000u);
  EXPECT_EQ((*rows)[0].bytes_received, 0u);
  // A new header with an old-length row is corrupt.
  std::ofstream(dir + "/metrics.csv", std::ios::trunc)
      << "round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,"
         "bytes_sent,msgs_sent,peers_evaluated,bytes_received,max_peer_bytes\n"
      << "10,1.5,0.8,0.7,0.9,0.5,0.4,0.3,1000,10,4\n";
  EXPECT_EQ(ReadMetricsCsv(dir + "/metrics.csv").status().code(), StatusCode::kCorrupt);
  std::filesystem::remove_all(dir);
}

TEST(ReadMetricsCsv, RejectsMalformedFilesNamingTheLine) {
  const std::string dir = TempDir("bad");
  std::filesystem::create_directories(dir);
  const std::string header =
      "round,time_s,acc_mean,acc_min,acc_max,loss_mean,train_loss,consensus_dist,"
      "bytes_sent,msgs_sent,peers_evaluated\n";
  auto write = [&](const std::string& text) {
    std::ofstream(dir + "/metrics.csv", std::ios::trunc) << text;
    return ReadMetricsCsv(dir + "/metrics.csv").status();
  };
  EXPECT_EQ(write("a,b\n").code(), StatusCode::kCorrupt);
  Status s = write(header + "0,0,0.1,0.1,0.1,2,,0,0,0,1\n1,0.5,zero,0,0,0,0,0,0,0,1\n");
  EXPECT_EQ(s.code(), StatusCode::kCorrupt);
  EXPECT_NE(s.message().find(":3:"), std::string::npos) << s.message();
  EXPECT_EQ(write(header + "1,2,3\n").code(), StatusCode::kCorrupt);
  EXPECT_EQ(ReadMetricsCsv(dir + "/none.csv").status().code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace murmur
