// What the DiLoCo process suites (diloco_restart_test.cc,
// diloco_churn_test.cc) share: starting one `murmur peer` process of a
// slot, awaiting its listening line, and reading its output directory
// (metrics rows and summary counters). Every incarnation of a slot writes
// into its own directory, so that the first run's files stay.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/cli_runner.h"

namespace murmur::testing {

// How a killed peer is started again: with its original command line (as a
// supervisor restarts it) or with --rejoin added.
enum class Restart { kPlain, kRejoin };

// Slot `index`'s output directory under `dir` for its `incarnation`-th
// process (0: the first).
inline std::string DilocoPeerDir(const std::string& dir, int index, int incarnation) {
  return dir + "/peer-" + std::to_string(index) +
         (incarnation == 0 ? "" : "-r" + std::to_string(incarnation));
}

// Slot `index`'s `incarnation`-th process: the same command line for every
// incarnation (only --out differs; every incarnation uses the first one's
// key), plus --rejoin when `restart` is kRejoin, and --bootstrap unless
// `bootstrap` is empty.
inline std::unique_ptr<ChildProcess> StartDilocoPeer(const std::string& dir,
                                                     const std::string& config, int index,
                                                     int incarnation, const std::string& bootstrap,
                                                     Restart restart = Restart::kPlain) {
  std::vector<std::string> argv = {
      MurmurBin(), "peer", config, "--index", std::to_string(index), "--key",
      DilocoPeerDir(dir, index, 0) + "/key", "--network-key", dir + "/network.key", "--out",
      DilocoPeerDir(dir, index, incarnation), "--peer-timeout", "2"};
  if (restart == Restart::kRejoin) argv.push_back("--rejoin");
  if (!bootstrap.empty()) {
    argv.push_back("--bootstrap");
    argv.push_back(bootstrap);
  }
  return std::make_unique<ChildProcess>(argv);
}

// The address `p` (slot `index`) listens on, once it printed it (60 s
// deadline); "" (and a test failure with its log) if it did not.
inline std::string AwaitListening(ChildProcess& p, int index) {
  const std::string line =
      p.AwaitLine("listening on ", std::chrono::steady_clock::now() + std::chrono::seconds(60));
  EXPECT_FALSE(line.empty()) << "peer " << index << " did not start:\n" << p.log();
  return line.empty() ? "" : line.substr(line.find("listening on ") + 13);
}

// One row of a peer's metrics.jsonl.
struct DilocoRow {
  int64_t round = 0;
  double loss = 0;
  double acc = 0;
  double time_s = 0;  // since the process started
};

inline std::vector<DilocoRow> ReadDilocoRows(const std::string& peer_dir) {
  std::vector<DilocoRow> rows;
  std::ifstream in(peer_dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    rows.push_back({j["round"].get<int64_t>(), j["loss_mean"].get<double>(),
                    j["acc_mean"].get<double>(), j["time_s"].get<double>()});
  }
  return rows;
}

// The counters of a peer's summary.json; empty if it has none.
inline std::map<std::string, int64_t> ReadDilocoCounters(const std::string& peer_dir) {
  std::map<std::string, int64_t> out;
  std::ifstream in(peer_dir + "/summary.json");
  if (!in) return out;
  const auto j = nlohmann::json::parse(in);
  for (const auto& [name, value] : j["counters"].items()) out[name] = value.get<int64_t>();
  return out;
}

}  // namespace murmur::testing
