// The murmur binary as a user runs it: exit codes, error lines, output files.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/cli_runner.h"

namespace {

using Outcome = murmur::testing::CliOutcome;
using murmur::testing::ReadFile;
using murmur::testing::RunMurmur;
using murmur::testing::TempPath;

const char* kTiny =
    "--set data.dataset=synthetic --set data.synthetic_train=800 "
    "--set data.synthetic_test=200 --set peers=4 --set protocol.rounds=4 "
    "--set eval.every=2 --set model.hidden=[16]";

TEST(MurmurRun, WritesConfigAndMetricsFiles) {
  const std::string out = TempPath("files");
  Outcome o = RunMurmur(std::string("run ") + kTiny + " --out " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  const std::string jsonl = ReadFile(out + "/metrics.jsonl");
  // Rounds 0, 2 and 4, with every required field.
  EXPECT_EQ(std::count(jsonl.begin(), jsonl.end(), '\n'), 3);
  for (const char* key : {"\"round\"", "\"time_s\"", "\"acc_mean\"", "\"acc_min\"",
                          "\"acc_max\"", "\"loss_mean\"", "\"consensus_dist\"",
                          "\"bytes_sent\"", "\"msgs_sent\""}) {
    EXPECT_NE(jsonl.find(key), std::string::npos) << key;
  }
  const std::string csv = ReadFile(out + "/metrics.csv");
  EXPECT_EQ(csv.rfind("round,time_s,acc_mean", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  const std::string config = ReadFile(out + "/config.toml");
  EXPECT_NE(config.find("synthetic"), std::string::npos);
  EXPECT_NE(config.find("round_timeout_s"), std::string::npos);  // defaults resolved
  // The resolved config reproduces the run byte for byte.
  const std::string again = TempPath("again");
  Outcome o2 = RunMurmur("run " + out + "/config.toml --out " + again);
  ASSERT_EQ(o2.exit_code, 0) << o2.output;
  EXPECT_EQ(ReadFile(again + "/metrics.jsonl"), jsonl);
  EXPECT_EQ(ReadFile(again + "/peers.csv"), ReadFile(out + "/peers.csv"));
  EXPECT_EQ(ReadFile(again + "/summary.json"), ReadFile(out + "/summary.json"));
  std::filesystem::remove_all(out);
  std::filesystem::remove_all(again);
}

// The per-peer file adds up to the last row's totals (the run ends with its
// last row, so nothing is sent after it), and summary.json repeats them.
TEST(MurmurRun, WritesPerPeerTrafficAndASummary) {
  const std::string out = TempPath("peers");
  Outcome o = RunMurmur(std::string("run ") + kTiny +
                        " --set protocol.kind=fedavg --set peers=3 --quiet --out " + out);
  ASSERT_EQ(o.exit_code, 0) << o.output;
  std::stringstream peers(ReadFile(out + "/peers.csv"));
  std::string line;
  std::getline(peers, line);
  EXPECT_EQ(line, "peer,role,bytes_sent,bytes_received,msgs_sent,msgs_received");
  unsigned long long sent = 0, received = 0, server_sent = 0, server_received = 0;
  int rows = 0;
  while (std::getline(peers, line)) {
    unsigned long long s = 0, r = 0, ms = 0, mr = 0;
    char role[16] = {};
    int peer = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d,%15[a-z],%llu,%llu,%llu,%llu", &peer, role, &s, &r,
                          &ms, &mr),
              6)
        << line;
    EXPECT_EQ(peer, rows);
    EXPECT_STREQ(role, rows == 3 ? "server" : "client");
    sent += s;
    received += r;
    if (rows == 3) {
      server_sent = s;
      server_received = r;
    }
    ++rows;
  }
  EXPECT_EQ(rows, 4);
  const std::string summary = ReadFile(out + "/summary.json");
  EXPECT_NE(summary.find("\"bytes_sent\": " + std::to_string(sent) + ","), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("\"bytes_received\": " + std::to_string(received) + ","),
            std::string::npos);
  // Lossless links: the server received all of the uplink.
  EXPECT_NE(summary.find("\"bytes_up\": " + std::to_string(server_received) + ","),
            std::string::npos);
  EXPECT_NE(summary.find("\"bytes_down\": " + std::to_string(server_sent) + ","),
            std::string::npos);
  EXPECT_NE(summary.find("\"acc_per_mb\""), std::string::npos);
  EXPECT_NE(summary.find("\"finished\": true"), std::string::npos);
  std::filesystem::remove_all(out);
}

TEST(MurmurReport, TabulatesRunsAndWritesAnSvgPlot) {
  const std::string out = TempPath("report_run");
  ASSERT_EQ(RunMurmur(std::string("run ") + kTiny + " --quiet --out " + out).exit_code, 0);
  const std::string svg = out + "/acc.svg";
  Outcome o = RunMurmur("report " + out + " --svg " + svg + " --x mb");
  ASSERT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("final acc"), std::string::npos) << o.output;
  // matplotlib's SVG (python/murmur/report_plot.py), with the run's name as text.
  const std::string plot = ReadFile(svg);
  EXPECT_NE(plot.find("<svg"), std::string::npos);
  EXPECT_NE(plot.find("report_run"), std::string::npos);
  EXPECT_EQ(RunMurmur("report /nonexistent/run").exit_code, 2);
  // An output path that cannot be written is the user's to fix: exit 2.
  EXPECT_EQ(RunMurmur("report " + out + " --html /nonexistent/dir/r.html").exit_code, 2);
  std::filesystem::remove_all(out);
}

TEST(MurmurRun, UnknownKeyExitsWithCodeTwoAndNamesIt) {
  Outcome o = RunMurmur(std::string("run ") + kTiny + " --set train.learning_rate=0.1");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find("train.learning_rate"), std::string::npos) << o.output;
}

TEST(MurmurRun, BadValueExitsWithCodeTwoAndNamesKeyAndValue) {
  Outcome o = RunMurmur(std::string("run ") + kTiny + " --set protocol.topology=hypercube");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find("protocol.topology"), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("hypercube"), std::string::npos) << o.output;
}

TEST(MurmurRun, MissingDatasetSaysWhatToInstall) {
  Outcome o = RunMurmur("run --set data.path=/nonexistent/fmnist --set protocol.rounds=1");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find("dataset-fashion-mnist"), std::string::npos) << o.output;
  // One clear line, not a dump.
  EXPECT_EQ(std::count(o.output.begin(), o.output.end(), '\n'), 1) << o.output;
}

TEST(MurmurRun, MissingConfigFileExitsWithCodeTwo) {
  Outcome o = RunMurmur("run /nonexistent/run.toml");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.output.find("/nonexistent/run.toml"), std::string::npos) << o.output;
}

TEST(MurmurRun, HelpDescribesTheOptions) {
  Outcome o = RunMurmur("run --help");
  EXPECT_EQ(o.exit_code, 0);
  for (const char* option : {"--set", "--seed", "--out", "--threads", "quickstart"}) {
    EXPECT_NE(o.output.find(option), std::string::npos) << option;
  }
}

}  // namespace
