// CutMetricsToState (experiment/peer_persist.h): a resumed peer cuts its
// metrics files back to the lengths its state recorded, so the rows its
// earlier life wrote after the save are there once; a file shorter than
// recorded, or a length that does not end a row, is refused with nothing
// changed.
#include "experiment/peer_persist.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace murmur {
namespace {

std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("murmur_peer_persist_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

constexpr char kSavedJsonl[] = "{\"round\":0}\n{\"round\":5}\n";
constexpr char kSavedCsv[] = "round\n0\n5\n";

// A directory whose files hold the saved rows and then `jsonl_tail` and
// `csv_tail`; the state records the saved rows' lengths.
PeerState WriteFiles(const std::string& dir, const std::string& jsonl_tail,
                     const std::string& csv_tail) {
  std::ofstream(dir + "/metrics.jsonl", std::ios::binary) << kSavedJsonl << jsonl_tail;
  std::ofstream(dir + "/metrics.csv", std::ios::binary) << kSavedCsv << csv_tail;
  return PeerState{.round = 5,
                   .jsonl_bytes = std::string_view(kSavedJsonl).size(),
                   .csv_bytes = std::string_view(kSavedCsv).size()};
}

TEST(PeerPersistMetrics, CutsBothFilesBackToTheSavedRowsAndAgainHarmlessly) {
  const std::string dir = TempDir("cut");
  const PeerState state = WriteFiles(dir, "{\"round\":10}\n{\"round\":15}\n{\"rou", "10\n15\n");
  ASSERT_TRUE(CutMetricsToState(dir, state).ok());
  EXPECT_EQ(Read(dir + "/metrics.jsonl"), kSavedJsonl);
  EXPECT_EQ(Read(dir + "/metrics.csv"), kSavedCsv);
  // Interrupted between the two files, or run twice: the same result.
  std::ofstream(dir + "/metrics.csv", std::ios::app) << "10\n";
  ASSERT_TRUE(CutMetricsToState(dir, state).ok());
  EXPECT_EQ(Read(dir + "/metrics.jsonl"), kSavedJsonl);
  EXPECT_EQ(Read(dir + "/metrics.csv"), kSavedCsv);
  std::filesystem::remove_all(dir);
}

TEST(PeerPersistMetrics, RefusesAShorterFileAndChangesNothing) {
  const std::string dir = TempDir("short");
  PeerState state = WriteFiles(dir, "{\"round\":10}\n", "10\n");
  state.jsonl_bytes += 100;  // more than the file holds
  const Status s = CutMetricsToState(dir, state);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(dir + "/metrics.jsonl"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("is shorter than"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("Nothing was changed"), std::string::npos) << s.message();
  EXPECT_EQ(Read(dir + "/metrics.jsonl"), std::string(kSavedJsonl) + "{\"round\":10}\n");
  EXPECT_EQ(Read(dir + "/metrics.csv"), std::string(kSavedCsv) + "10\n");
  // A missing file is shorter than any recorded length but 0.
  std::filesystem::remove(dir + "/metrics.csv");
  state.jsonl_bytes -= 100;
  EXPECT_EQ(CutMetricsToState(dir, state).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Read(dir + "/metrics.jsonl"), std::string(kSavedJsonl) + "{\"round\":10}\n");
  std::filesystem::remove_all(dir);
}

TEST(PeerPersistMetrics, RefusesALengthThatDoesNotEndARow) {
  const std::string dir = TempDir("midrow");
  PeerState state = WriteFiles(dir, "{\"round\":10}\n", "10\n");
  state.csv_bytes -= 1;  // inside the saved file's last row
  const Status s = CutMetricsToState(dir, state);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(dir + "/metrics.csv"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no row ending"), std::string::npos) << s.message();
  // The jsonl file, checked first and fine, was not cut either.
  EXPECT_EQ(Read(dir + "/metrics.jsonl"), std::string(kSavedJsonl) + "{\"round\":10}\n");
  EXPECT_EQ(Read(dir + "/metrics.csv"), std::string(kSavedCsv) + "10\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace murmur
